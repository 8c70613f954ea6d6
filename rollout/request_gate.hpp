// The hook a RolloutClient passes every request through before it is sent: a per-team rate gate. rollout/
// knows no storage, so the server implements it (server/sync/rollout_rate_gate.hpp keeps each team under
// Rollout's per-tenant rate, about 50 requests/s, in a bucket every instance shares; docs/ARCHITECTURE.md,
// "Rollout request rate").
#pragma once

#include "base/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace rollout_mcp::rollout {

class RequestGate {
public:
    virtual ~RequestGate() = default;
    // Before one request of `team` (ClientConfig::partition) goes out: success once it may be sent (perhaps
    // after a short wait), else an Error of kind rate_limited with retry_after, and nothing is sent.
    virtual boost::asio::awaitable<Result<void>> admit(std::string team) = 0;
    // Rollout answered 429 to one of `team`'s requests: hold the team's requests until `retry_after` has
    // passed (nullopt: the gate's own default pause). Cheap and thread-safe; it does not wait.
    virtual void rate_limited(const std::string& team, std::optional<std::chrono::seconds> retry_after) = 0;
};

}  // namespace rollout_mcp::rollout
