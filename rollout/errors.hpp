// The codes of Rollout calls in the one error vocabulary (base/result.hpp): what kind of failure a call
// met, whether a retry may help, and the cleaning of a remote party's words before we show or log them.
#pragma once

#include "base/result.hpp"

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace rollout_mcp::rollout {

enum class ErrorKind {
    auth = 1,      // 401/403, missing/expired token: fix configuration, do not retry
    not_found,     // 404
    validation,    // 400/422, or bad input detected locally
    rate_limited,  // 429 (retry_after when the server said so)
    not_ready,     // 409: the credential's data is not synced yet; retry in 30-60 s
    transient,     // 5xx, connect failure, timeout, reset: retry with backoff
    permanent,     // anything else (other 4xx, refused URL, TLS verification failure, oversized reply)
};

const std::error_category& error_kind_category() noexcept;
inline std::error_code make_error_code(ErrorKind kind) noexcept {
    return {static_cast<int>(kind), error_kind_category()};
}

std::string_view to_string(ErrorKind kind);
// The kind of a failure; an error of another layer (storage, crypto, bad input) counts as permanent.
ErrorKind kind_of(const Error& error) noexcept;
// Whether a later try may succeed: rate limited, not ready yet, or transient.
bool retryable(const Error& error) noexcept;

// Remote text made safe to show and log: control bytes (C0 and DEL) become spaces and the result is cut
// to at most 300 bytes without splitting a UTF-8 sequence.
std::string upstream_text(std::string_view text);

}  // namespace rollout_mcp::rollout

template <>
struct std::is_error_code_enum<rollout_mcp::rollout::ErrorKind> : std::true_type {};
