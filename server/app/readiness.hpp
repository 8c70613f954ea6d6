// /readyz state and storage-side gauges, refreshed periodically on the storage thread so the HTTP
// handler only reads a cached document; plus the Rollout-call metrics hook.
#pragma once

#include "storage/storage_executor.hpp"

#include "rollout/http_pool.hpp"

#include <boost/json/object.hpp>

#include <mutex>

namespace rollout_mcp {

class Readiness {
public:
    // Runs the checks now, on the calling thread (start-up, before serving).
    void refresh_now(storage::Storage& storage);
    // Schedules the checks on the storage thread.
    void refresh(StorageExecutor& storage);
    // {"ready": bool, "database": ..., "keys": {...}, "outbox": {status, queued, due, dead, ...},
    //  "changes": {mode, reason?, subscribedConnections, polledConnections, pendingDeliveries},
    //  "authTokens": {teams, expired, expiringWithin7Days, earliestExpiry?}}
    boost::json::object state() const;
    // Whether [server] public_url is set (CRM changes can arrive by webhook); before the first refresh.
    void set_webhooks_reachable(bool reachable) { webhooks_reachable_ = reachable; }

private:
    void update(storage::Storage& storage);
    bool webhooks_reachable_ = false;
    // Teams on a pre-minted authToken (read once a minute: it opens every team's Rollout secret).
    boost::json::object auth_tokens_;
    std::int64_t auth_tokens_at_ms_ = 0;
    mutable std::mutex mu_;
    boost::json::object state_{{"ready", false}, {"database", "starting"}};
};

// Counts Rollout calls by host, CRM and status with their latency (rollout_mcp_rollout_requests_total,
// rollout_mcp_rollout_request_duration_seconds).
decltype(rollout::HttpOptions::observer) rollout_call_metrics();
// rollout_mcp_rollout_rate_limit_remaining{host, crm}, where Rollout reports X-RateLimit-Remaining.
decltype(rollout::HttpOptions::rate_limit_observer) rollout_rate_limit_metrics();

}  // namespace rollout_mcp
