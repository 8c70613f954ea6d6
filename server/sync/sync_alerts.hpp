// Dead-job alerts to an operator webhook: a JSON body POSTed with an HMAC-SHA256 signature header, so the
// receiver can check it came from this server and is fresh.
#pragma once

#include "server/app/config.hpp"
#include "server/sync/sync_policy.hpp"
#include "storage/storage_executor.hpp"

#include "storage/storage.hpp"   // crypto::SecretBytes, as storage hands it over
#include "rollout/http_pool.hpp"
#include "storage/outbox.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace rollout_mcp {

// {"event":"sync_job_dead","jobId",...,"tenantId","crmType","kind","subject","tourId","attempts","lastError",
//  "lastHttpStatus","createdAt","deadAt"} (times ISO 8601 UTC). No payload: it holds client data.
boost::json::object dead_job_alert(const storage::SyncJobInfo& job);

// The X-Rollout-MCP-Signature value: "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">".
std::string alert_signature(std::span<const unsigned char> key, std::int64_t unix_seconds, std::string_view body);

class AlertSender {
public:
    AlertSender(std::shared_ptr<rollout::HttpPool> pool, std::string url, crypto::SecretBytes key,
                std::size_t max_attempts);
    // nullptr without alerts.webhook_url; throws std::runtime_error naming the file when the secret file
    // cannot be read or is empty.
    static std::shared_ptr<AlertSender> from_config(const AlertSettings& settings, std::shared_ptr<rollout::HttpPool> pool);

    // One delivery try; true on a 2xx answer.
    boost::asio::awaitable<bool> send(const storage::SyncJobInfo& job);
    std::size_t max_attempts() const { return max_attempts_; }

private:
    std::shared_ptr<rollout::HttpPool> pool_;
    std::string url_;
    crypto::SecretBytes key_;
    std::size_t max_attempts_;
};

// How long an instance holds a dead-job alert it claimed (Storage::claim_alerts): another instance takes it over
// only after this, so one that crashes between claim and post loses nothing, and a live one posts it alone.
inline constexpr std::chrono::seconds kAlertClaimLease{120};

// One pass of the worker's alert loop: every dead-job alert due now (at most 16) is claimed in the database (so
// with several instances exactly one posts it) and posted to the webhook, or without one (`sender` null) closed at
// once, since the log line and the metric were the alert.
boost::asio::awaitable<void> deliver_due_alerts(StorageExecutor& storage, AlertSender* sender, const SyncSettings& settings,
                                                const JitterSource& jitter);

}  // namespace rollout_mcp
