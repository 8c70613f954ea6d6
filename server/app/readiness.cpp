// Readiness document and gauges from the credential store; Rollout call metrics.
#include "server/app/readiness.hpp"

#include "server/app/metrics.hpp"

#include "crypto/master_key.hpp"

#include <chrono>

namespace rollout_mcp {
namespace json = boost::json;

namespace {

// The outbox part of /readyz and its gauges. Dead jobs and a backlog do not make the server unready (they
// are Rollout's or a CRM's trouble, and taking this server out of rotation would not help); they are reported.
json::object outbox_state(storage::Storage& storage) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    auto stats = storage.outbox_stats(now);
    if (!stats) return {{"status", "unknown"}, {"error", stats.error().message}};
    auto& jobs = metrics::registry().gauge("rollout_mcp_outbox_jobs", "Sync jobs in the outbox by status", {"status"});
    jobs.with({"queued"}).set(static_cast<double>(stats->queued));
    jobs.with({"running"}).set(static_cast<double>(stats->running));
    jobs.with({"succeeded"}).set(static_cast<double>(stats->succeeded));
    jobs.with({"failed"}).set(static_cast<double>(stats->failed));
    jobs.with({"dead"}).set(static_cast<double>(stats->dead));
    metrics::registry().gauge("rollout_mcp_outbox_due_jobs", "Queued sync jobs whose attempt is due now").with({})
        .set(static_cast<double>(stats->due));
    metrics::registry().gauge("rollout_mcp_outbox_oldest_due_seconds", "How long the oldest due sync job has waited")
        .with({}).set(static_cast<double>(stats->oldest_due_age_ms) / 1000.0);
    metrics::registry().gauge("rollout_mcp_outbox_alerts_pending", "Dead-job alerts not delivered yet").with({})
        .set(static_cast<double>(stats->alerts_pending));
    std::string status = "ok";
    if (stats->dead > 0) status = "dead jobs";
    else if (stats->oldest_due_age_ms > 60'000) status = "backlog";
    return {{"status", status},
            {"queued", stats->queued},
            {"running", stats->running},
            {"due", stats->due},
            {"oldestDueSeconds", stats->oldest_due_age_ms / 1000},
            {"failed", stats->failed},
            {"dead", stats->dead},
            {"alertsPending", stats->alerts_pending}};
}

// The CRM-changes part of /readyz (README, "Changes from the CRM"): how changes arrive, counts only (/readyz is
// unauthenticated: no team is named).
json::object changes_state(storage::Storage& storage, bool webhooks_reachable) {
    json::object out{{"mode", webhooks_reachable ? "webhooks" : "polling"}};
    if (!webhooks_reachable) out["reason"] = "[server] public_url is empty: every CRM connection is polled";
    if (auto counts = storage.hook_subscription_counts(); counts) {
        out["subscribedConnections"] = counts->first;
        out["polledConnections"] = counts->second;
    }
    if (auto pending = storage.pending_hook_events(); pending) {
        out["pendingDeliveries"] = *pending;
        metrics::registry()
            .gauge("rollout_mcp_webhooks_pending", "Stored Rollout webhook deliveries (and polls) not processed yet")
            .with({})
            .set(static_cast<double>(*pending));
    }
    return out;
}

}  // namespace

void Readiness::update(storage::Storage& storage) {
    auto status = storage.key_status();
    auto& db_up = metrics::registry().gauge("rollout_mcp_database_up", "1 when the credential store answers").with({});
    auto& reseal = metrics::registry()
                       .gauge("rollout_mcp_key_rows_to_reseal", "Sealed rows still under a retired data key (rotation in progress)")
                       .with({});
    json::object state;
    if (status) {
        db_up.set(1);
        reseal.set(static_cast<double>(status->rows_to_reseal));
        state = {{"ready", true},
                 {"database", "ok"},
                 // The kind only: /readyz is unauthenticated, the key file's path is for `keys status`.
                 {"keys", json::object{{"masterKeySource", crypto::master_key_kind(status->master_key_source)},
                                       {"activeDataKey", status->active_key_id},
                                       {"rotation", status->rows_to_reseal > 0 ? "in progress" : "idle"},
                                       {"rowsToReseal", status->rows_to_reseal}}}};
        state["outbox"] = outbox_state(storage);
        state["changes"] = changes_state(storage, webhooks_reachable_);
    } else {
        db_up.set(0);
        state = {{"ready", false}, {"database", status.error().message}};
    }
    std::lock_guard lock(mu_);
    state_ = std::move(state);
}

void Readiness::refresh_now(storage::Storage& storage) { update(storage); }

void Readiness::refresh(StorageExecutor& storage) {
    storage.post([this](storage::Storage& s) { update(s); });
}

json::object Readiness::state() const {
    std::lock_guard lock(mu_);
    return state_;
}

namespace {
std::string host_of(const std::string& url) {
    if (url.find("/crm/api") != std::string::npos || url.find("://crm.") != std::string::npos) return "crm";
    if (url.find("/automation/api") != std::string::npos || url.find(".rolloutapp.com") != std::string::npos)
        return "automation";
    return "platform";
}
}  // namespace

decltype(rollout::HttpOptions::observer) rollout_call_metrics() {
    auto& calls = metrics::registry().counter("rollout_mcp_rollout_requests_total",
                                              "Calls to Rollout by host, CRM (\"\" = not CRM-specific), method and "
                                              "HTTP status (0 = no response)",
                                              {"host", "crm", "method", "status"});
    auto& latency = metrics::registry().histogram("rollout_mcp_rollout_request_duration_seconds",
                                                  "Latency of calls to Rollout by host and CRM", {"host", "crm"},
                                                  {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
    return [&calls, &latency](boost::beast::http::verb method, const std::string& url, const std::string& crm,
                              unsigned status, std::chrono::steady_clock::duration elapsed) {
        const auto host = host_of(url);
        calls.with({host, crm, std::string(boost::beast::http::to_string(method)), std::to_string(status)}).inc();
        latency.with({host, crm}).observe(std::chrono::duration<double>(elapsed).count());
    };
}

decltype(rollout::HttpOptions::rate_limit_observer) rollout_rate_limit_metrics() {
    auto& remaining = metrics::registry().gauge("rollout_mcp_rollout_rate_limit_remaining",
                                                "X-RateLimit-Remaining of the last Rollout answer that carried it",
                                                {"host", "crm"});
    return [&remaining](const std::string& url, const std::string& crm, std::int64_t left) {
        remaining.with({host_of(url), crm}).set(static_cast<double>(left));
    };
}

}  // namespace rollout_mcp
