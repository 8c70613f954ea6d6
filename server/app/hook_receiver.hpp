// The seam between the HTTP layer, which reads `POST <public_url path>/hooks/rollout/<route>`, and the
// receiver of Rollout's webhooks (server/sync/rollout_hooks.hpp), which needs storage and rollout/: the
// include rule keeps server/http and server/sync apart (docs/ARCHITECTURE.md, "Layers"), so main.cpp hands
// the one to the other through this interface.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace rollout_mcp {

// A delivery larger than this is refused with 413 before its body is read (Rollout's notifications are a
// few hundred bytes: ids, not records).
inline constexpr std::size_t kMaxHookBodyBytes = 256 * 1024;

struct HookRequest {
    std::string_view route;       // the last path segment, as sent
    std::string_view signature;   // X-Rollout-Signature ("" when absent)
    std::string_view body;
};

struct HookAnswer {
    unsigned status = 200;
    std::string message;                     // a short reason, never a secret or a value from the body
    std::chrono::seconds retry_after{0};     // sent as Retry-After when non-zero (429, 503)
};

class HookReceiver {
public:
    virtual ~HookReceiver() = default;
    // The views stay valid until the returned awaitable completes.
    virtual boost::asio::awaitable<HookAnswer> receive(HookRequest request) = 0;
};

}  // namespace rollout_mcp
