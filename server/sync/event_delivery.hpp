// MCP Events webhook delivery (io.modelcontextprotocol/events; README, "Changes from the CRM"): each instance scans
// for subscriptions with something to send, claims one in the database (a lease and a fencing token, as the
// outbox does), sends the signed verification challenge first, then the team's changes after the subscription's
// cursor, one event per POST, in order, moving the cursor after each 2xx. Retries back off; a 410 drops the
// subscription, a 413 drops that one event; an event still failing after [events] max_attempts is given up.
// Callbacks go through their own HttpPool, which checks the address at every connection (non-public refused
// unless the origin is in [events] allowed_callback_origins).
#pragma once

#include "server/app/config.hpp"
#include "rollout/http_pool.hpp"
#include "storage/storage_executor.hpp"

#include <boost/asio/any_io_executor.hpp>

#include "base/result.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp {

inline constexpr std::size_t kMaxEventBytes = 256 * 1024;   // one event per POST, at most 256 KiB

class EventDelivery {
public:
    // The pool must have allowed_origins = settings.allowed_callback_origins (see make_event_pool).
    EventDelivery(StorageExecutor& storage, EventSettings settings, std::shared_ptr<rollout::HttpPool> pool);
    ~EventDelivery();
    EventDelivery(const EventDelivery&) = delete;
    EventDelivery& operator=(const EventDelivery&) = delete;

    void start(boost::asio::any_io_executor io);
    // No new claims; deliveries in flight end after their current POST (their claims lapse or are released).
    void stop();
    // Scan now (a change was appended on this instance).
    void wake();

    struct State;

private:
    std::shared_ptr<State> state_;
};

// A callback URL as events/subscribe accepts it: https (plain http only to a loopback host), no userinfo or
// fragment, at most 2048 bytes; unless its origin is in `allowed_origins`, https to a host that is not an IP
// literal of a non-public address (a name is checked when each connection is made). invalid_argument naming
// callbackUrl, before anything is connected.
Result<void> check_callback_url(std::string_view url, const std::vector<std::string>& allowed_origins);

// The callbacks' pool: 10 s per request, small replies, the listed origins, and `extra_ca_pem` trusted.
std::shared_ptr<rollout::HttpPool> make_event_pool(const EventSettings& settings, std::string extra_ca_pem = {});

}  // namespace rollout_mcp
