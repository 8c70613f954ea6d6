// Signed dead-job alerts (webhook) and their JSON body.
#include "server/sync/sync_alerts.hpp"

#include "server/app/log.hpp"
#include "server/app/metrics.hpp"

#include <boost/json/serialize.hpp>
#include <sodium.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string iso_utc(std::int64_t ms) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

metrics::Family<metrics::Counter>& alerts_metric() {
    static auto& f = metrics::registry().counter("rollout_mcp_alert_deliveries_total",
                                                 "Dead-job alert webhook deliveries by result", {"result"});
    return f;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

json::object dead_job_alert(const storage::SyncJobInfo& job) {
    json::object o{{"event", "sync_job_dead"},   {"jobId", job.id},           {"tenantId", job.tenant_id},
                   {"crmType", job.crm_type},    {"kind", job.kind},          {"subject", job.subject},
                   {"tourId", job.tour_id},      {"attempts", job.attempts},  {"lastError", job.last_error},
                   {"lastHttpStatus", job.last_http_status}, {"createdAt", iso_utc(job.created_at_ms)}};
    o["deadAt"] = iso_utc(job.finished_at_ms.value_or(job.updated_at_ms));
    return o;
}

std::string alert_signature(std::span<const unsigned char> key, std::int64_t unix_seconds, std::string_view body) {
    const std::string t = std::to_string(unix_seconds);
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key.data(), key.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(t.data()), t.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>("."), 1);
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return "t=" + t + ",v1=" + hex;
}

AlertSender::AlertSender(std::shared_ptr<rollout::HttpPool> pool, std::string url, crypto::SecretBytes key,
                         std::size_t max_attempts)
    : pool_(std::move(pool)), url_(std::move(url)), key_(std::move(key)), max_attempts_(max_attempts) {}

std::shared_ptr<AlertSender> AlertSender::from_config(const AlertSettings& settings,
                                                      std::shared_ptr<rollout::HttpPool> pool) {
    if (settings.webhook_url.empty()) return nullptr;
    if (auto endpoint = rollout::parse_endpoint(settings.webhook_url); !endpoint)
        throw std::runtime_error("alerts.webhook_url: " + endpoint.error().message);
    std::ifstream in(settings.webhook_secret_file, std::ios::binary);
    if (!in) throw std::runtime_error("alerts.webhook_secret_file: cannot read " + settings.webhook_secret_file);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    auto key = crypto::SecretBytes::copy_of(std::string_view(text));
    sodium_memzero(text.data(), text.size());
    if (key.empty()) throw std::runtime_error("alerts.webhook_secret_file: " + settings.webhook_secret_file + " is empty");
    return std::make_shared<AlertSender>(std::move(pool), settings.webhook_url, std::move(key),
                                         settings.webhook_max_attempts);
}

asio::awaitable<bool> AlertSender::send(const storage::SyncJobInfo& job) {
    rollout::HttpRequest request;
    request.method = boost::beast::http::verb::post;
    request.url = url_;
    request.trusted_destination = true;   // the operator's own [alerts] webhook_url, trusted as written
    request.body = json::serialize(dead_job_alert(job));
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    request.headers.emplace_back("X-Rollout-MCP-Signature", alert_signature(key_.view(), now, request.body));
    request.headers.emplace_back("X-Rollout-MCP-Event", "sync_job_dead");
    auto response = co_await pool_->send(std::move(request));
    const bool ok = response && response->status >= 200 && response->status < 300;
    alerts_metric().with({ok ? "delivered" : "failed"}).inc();
    if (!ok)
        log::warning("dead-job alert delivery failed",
                     {{"job", job.id}, {"error", response ? "HTTP " + std::to_string(response->status)
                                                          : response.error().describe()}});
    co_return ok;
}

asio::awaitable<void> deliver_due_alerts(StorageExecutor& storage, AlertSender* sender, const SyncSettings& settings,
                                         const JitterSource& jitter) {
    // One alert per claim, each under its own lease: one delivery try (at most the alert pool's 10 s timeout, see
    // server/main.cpp) ends well within it, so a claim lapses only when its instance died (or hung) holding it.
    for (int i = 0; i < 16; ++i) {
        const auto now = now_ms();
        const auto lease_until = now + std::chrono::duration_cast<std::chrono::milliseconds>(kAlertClaimLease).count();
        auto claimed = co_await storage.call(&storage::Storage::claim_alerts, now, lease_until, std::size_t{1});
        if (!claimed || claimed->empty()) co_return;
        const auto& alert = claimed->front();
        bool delivered = true;   // without a webhook the log line and the metric are the alert
        std::int64_t next_at = 0;
        if (sender) {
            delivered = co_await sender->send(alert.job);
            if (!delivered && static_cast<std::size_t>(alert.alert_attempts + 1) < sender->max_attempts())
                next_at = now_ms() + backoff_ms(settings, alert.alert_attempts + 1,
                                                Error{rollout::ErrorKind::transient, 0, ""}, jitter);
            else if (!delivered)
                log::error("dead-job alert not delivered; giving up",
                           {{"job", alert.job.id}, {"attempts", alert.alert_attempts + 1}});
        }
        auto done = co_await storage.call(&storage::Storage::finish_alert, alert.job.id, alert.claimed_until_ms,
                                          delivered, next_at);
        if (!done)
            log::warning("cannot record a dead-job alert's delivery", {{"job", alert.job.id}, {"error", done.error().message}});
    }
}

}  // namespace rollout_mcp
