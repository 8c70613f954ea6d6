// Typed outcome of every Rollout call: a value or an Error saying what kind of failure it was, whether a
// retry may help (and when), and whether the request may already have reached Rollout.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace rollout_mcp::rollout {

enum class ErrorKind {
    auth,          // 401/403, missing/expired token: fix configuration, do not retry
    not_found,     // 404
    validation,    // 400/422, or bad input detected locally
    rate_limited,  // 429 (retry_after when the server said so)
    not_ready,     // 409: the credential's data is not synced yet; retry in 30-60 s
    transient,     // 5xx, connect failure, timeout, reset: retry with backoff
    permanent,     // anything else (other 4xx, refused URL, TLS verification failure, oversized reply)
};

std::string_view to_string(ErrorKind kind);

struct Error {
    Error() = default;
    Error(ErrorKind k, unsigned http_status, std::string msg, bool may_have_reached = false)
        : kind(k), status(http_status), message(std::move(msg)), uncertain(may_have_reached) {}

    ErrorKind kind = ErrorKind::permanent;
    unsigned status = 0;        // HTTP status; 0 when no response was received
    std::string message;        // our own text only ("Rollout answered HTTP 422", "cannot connect to ...")
    // What Rollout (or the CRM behind it) said, parsed from the error body (errorMessage, errors[0], error,
    // message) and cleaned by upstream_text(); empty when the body had no such JSON message. Kept apart
    // from `message` so callers never mistake a remote party's words for ours.
    std::string upstream;
    std::optional<std::chrono::seconds> retry_after;
    bool uncertain = false;     // the request may have reached the server (a write may have been applied)

    bool retryable() const {
        return kind == ErrorKind::rate_limited || kind == ErrorKind::not_ready || kind == ErrorKind::transient;
    }
    // "validation (HTTP 422): Rollout answered HTTP 422; upstream says: \"email: is invalid\""
    std::string describe() const;
};

// Remote text made safe to show and log: control bytes (C0 and DEL) become spaces and the result is cut
// to at most 300 bytes without splitting a UTF-8 sequence.
std::string upstream_text(std::string_view text);

// A value or an Error. Reading the wrong side is a programming error and throws std::logic_error.
template <class T>
class [[nodiscard]] Result {
public:
    // Default: an error (co_spawn with use_future needs default-constructible results).
    Result() : v_(std::in_place_index<1>, Error{ErrorKind::permanent, 0, "no result"}) {}
    // Reference overloads, not by-value parameters: GCC 12 can destroy a by-value parameter of a
    // converting constructor twice when the conversion happens in a co_return.
    Result(const T& value) : v_(std::in_place_index<0>, value) {}
    Result(T&& value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(const Error& error) : v_(std::in_place_index<1>, error) {}
    Result(Error&& error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return ok() ? std::get<0>(v_) : fail<T&>("value() on an error: "); }
    const T& value() const& { return ok() ? std::get<0>(v_) : fail<const T&>("value() on an error: "); }
    T value() && { return ok() ? std::get<0>(std::move(v_)) : fail<T>("value() on an error: "); }
    const Error& error() const& {
        if (ok()) throw std::logic_error("Result::error() on a value");
        return std::get<1>(v_);
    }
    Error error() && {
        if (ok()) throw std::logic_error("Result::error() on a value");
        return std::get<1>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

private:
    template <class R>
    R fail(const char* what) const {
        throw std::logic_error(std::string("Result::") + what + std::get<1>(v_).describe());
    }
    std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;

}  // namespace rollout_mcp::rollout
