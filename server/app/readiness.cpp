// Readiness document and gauges from the credential store; Rollout call metrics.
#include "server/app/readiness.hpp"

#include "base/utc_time.hpp"
#include "rollout/jwt.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>

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

// Teams configured with a pre-minted authToken alone (configure_rollout without clientId): their background syncs
// and change fetches stop at the token's exp. Counts and the earliest expiry only: /readyz names no team.
json::object auth_token_state(storage::Storage& storage, std::int64_t now_ms) {
    std::int64_t teams = 0, expired = 0, soon = 0, earliest = 0;
    auto tenants = storage.list_tenants();
    if (!tenants) return {};
    for (const auto& t : *tenants) {
        auto stored = storage.get_rollout_config(t.id);
        if (!stored) continue;
        boost::system::error_code ec;
        const auto settings = json::parse(stored->settings_json, ec);
        const auto* client_id = !ec && settings.is_object() ? settings.get_object().if_contains("clientId") : nullptr;
        if (client_id && client_id->is_string() && !client_id->get_string().empty()) continue;
        ++teams;
        // Clamped to year 9999: a hostile exp must not overflow the milliseconds below.
        const auto exp = std::clamp<std::int64_t>(rollout::jwt_expiry(stored->secret.text()).value_or(0), 0,
                                                  253'402'300'799);
        if (exp == 0) continue;
        if (exp * 1000 <= now_ms) ++expired;
        else if (exp * 1000 <= now_ms + 7 * 86'400'000LL) ++soon;
        if (earliest == 0 || exp < earliest) earliest = exp;
    }
    json::object out{{"teams", teams}, {"expired", expired}, {"expiringWithin7Days", soon}};
    if (earliest > 0) out["earliestExpiry"] = iso8601_utc_ms(earliest * 1000);
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
        const auto now = unix_now_ms();
        if (auth_tokens_at_ms_ == 0 || now - auth_tokens_at_ms_ >= 60'000) {   // update() runs on one thread
            auth_tokens_ = auth_token_state(storage, now);
            auth_tokens_at_ms_ = now;
        }
        state["authTokens"] = auth_tokens_;
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
