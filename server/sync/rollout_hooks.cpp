// Receiving one Rollout webhook delivery: route -> connection and key (storage thread), pacing, signature,
// the notification's fields, then one committed insert (storage thread) before the answer.
#include "server/sync/rollout_hooks.hpp"

#include "rollout/webhook_signature.hpp"
#include "server/app/log.hpp"
#include "server/app/metrics.hpp"
#include "server/sync/team_rollout.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>

namespace rollout_mcp {
namespace json = boost::json;

namespace {

constexpr const char* kLane = "hooks";   // deliveries wait behind at most one call of each other lane

metrics::Family<metrics::Counter>& received() {
    static auto& f = metrics::registry().counter("rollout_mcp_webhooks_received_total",
                                                 "Rollout webhook deliveries stored in the inbox");
    return f;
}
metrics::Family<metrics::Counter>& rejected() {
    static auto& f = metrics::registry().counter("rollout_mcp_webhooks_rejected_total",
                                                 "Rollout webhook deliveries refused, by reason", {"reason"});
    return f;
}
metrics::Family<metrics::Counter>& deduplicated() {
    static auto& f = metrics::registry().counter("rollout_mcp_webhooks_deduplicated_total",
                                                 "Rollout webhook deliveries already in the inbox (redeliveries)");
    return f;
}

// What the storage thread resolves for a route: its connection and the team's webhook key.
struct Resolved {
    storage::HookRoute route;
    std::shared_ptr<const crypto::SecretBytes> key;   // empty when the team has none
};

Result<Resolved> resolve(storage::Storage& s, const std::string& route) {
    auto found = s.find_hook_route(route);
    if (!found) return found.error();
    auto config = s.get_rollout_config(found->tenant_id);
    Resolved out{std::move(*found), std::make_shared<const crypto::SecretBytes>()};
    if (!config) {
        if (config.error().code == storage::ErrorCode::not_found) return out;   // no key: refused below
        return config.error();
    }
    const auto settings = RolloutSettings::from_json(config->settings_json);
    if (settings)
        out.key = std::make_shared<const crypto::SecretBytes>(crypto::SecretBytes::copy_of(webhook_key(*settings, *config)));
    return out;
}

Result<bool> record(storage::Storage& s, const storage::HookRoute& route, const storage::HookDelivery& delivery) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    return s.record_hook_delivery(route, delivery, now_ms);
}

std::optional<std::string> short_string(const json::object& o, std::string_view key, std::size_t max) {
    const auto* v = o.if_contains(key);
    if (!v || !v->is_string() || v->get_string().empty() || v->get_string().size() > max) return std::nullopt;
    return std::string(v->get_string());
}

// Rollout's thin notification {eventId, eventCreated, event, resourceIds, uri}; `uri` is ignored.
std::optional<storage::HookDelivery> parse_notification(std::string_view body, std::size_t max_ids) {
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 8;
    auto v = json::parse(body, ec, {}, options);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    storage::HookDelivery d;
    auto id = short_string(o, "eventId", 200);
    auto event = short_string(o, "event", 100);
    if (!id || !event) return std::nullopt;
    d.event_id = std::move(*id);
    d.event = std::move(*event);
    d.event_created = short_string(o, "eventCreated", 64).value_or("");
    const auto* ids = o.if_contains("resourceIds");
    if (!ids || !ids->is_array() || ids->get_array().size() > max_ids) return std::nullopt;
    json::array normalized;
    for (const auto& item : ids->get_array()) {
        // Follow Up Boss ids are numbers; other CRMs' are strings. Both kept as strings.
        if (item.is_string() && !item.get_string().empty() && item.get_string().size() <= 200)
            normalized.emplace_back(item.get_string());
        else if (item.is_int64() || item.is_uint64())
            normalized.emplace_back(json::serialize(item));
        else
            return std::nullopt;
    }
    d.resource_ids_json = json::serialize(normalized);
    return d;
}

HookAnswer refuse(unsigned status, std::string_view reason, std::string message) {
    rejected().with({std::string(reason)}).inc();
    return HookAnswer{status, std::move(message), {}};
}

}  // namespace

RolloutHookReceiver::RolloutHookReceiver(StorageExecutor& storage, HookLimits limits)
    : storage_(storage), limits_(limits) {}

std::chrono::seconds RolloutHookReceiver::take_token(const std::string& route_key) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    // Buckets of routes quiet long enough to be full again carry nothing: drop them so the map stays small.
    if (buckets_.size() > 10'000) {
        const auto refill = std::chrono::duration<double>(limits_.per_route_burst / limits_.per_route_per_second);
        std::erase_if(buckets_, [&](const auto& kv) { return now - kv.second.at > refill; });
    }
    auto [it, fresh] = buckets_.try_emplace(route_key, Bucket{limits_.per_route_burst, now});
    auto& b = it->second;
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(limits_.per_route_burst, b.tokens + elapsed * limits_.per_route_per_second);
    b.at = now;
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return std::chrono::seconds(0);
    }
    return std::chrono::seconds(static_cast<long>(std::ceil((1 - b.tokens) / limits_.per_route_per_second)));
}

boost::asio::awaitable<HookAnswer> RolloutHookReceiver::receive(HookRequest request) {
    const std::string route(request.route);
    auto resolved = co_await storage_.call_in(kLane, &resolve, route);
    if (!resolved) {
        if (resolved.error().code == storage::ErrorCode::not_found)
            co_return refuse(404, "unknown_route", "unknown webhook route");
        log::warning("webhook delivery not checked: the store is unavailable", {{"error", resolved.error().message}});
        HookAnswer busy = refuse(503, "unavailable", "cannot check this delivery right now; retry later");
        busy.retry_after = std::chrono::seconds(1);
        co_return busy;
    }
    const auto& target = resolved->route;
    const std::string route_key = target.tenant_id + "\n" + target.crm_type;
    if (const auto wait = take_token(route_key); wait.count() > 0) {
        HookAnswer paced = refuse(429, "rate", "too many deliveries on this route; retry later");
        paced.retry_after = wait;
        co_return paced;
    }
    if (resolved->key->size() == 0) {
        log::warning("webhook delivery refused: the team has no webhook key (configure_rollout webhookSecret)",
                     {{"tenant", target.tenant_id}, {"crm", target.crm_type}});
        co_return refuse(403, "no_key", "this route cannot verify deliveries");
    }
    switch (rollout::verify_webhook_signature(resolved->key->text(), request.body, request.signature)) {
    case rollout::SignatureCheck::valid: break;
    case rollout::SignatureCheck::missing: co_return refuse(401, "unsigned", "X-Rollout-Signature is required");
    case rollout::SignatureCheck::malformed:
    case rollout::SignatureCheck::mismatch: co_return refuse(403, "forged", "X-Rollout-Signature does not verify");
    }
    auto delivery = parse_notification(request.body, limits_.max_resource_ids);
    if (!delivery)
        co_return refuse(400, "malformed", "not a Rollout notification {eventId, event, resourceIds}");
    const storage::HookRoute route_copy = target;
    auto stored = co_await storage_.call_in(kLane, &record, route_copy, *delivery);
    if (!stored) {
        if (stored.error().code == storage::ErrorCode::not_found)
            co_return refuse(404, "unknown_route", "unknown webhook route");   // removed meanwhile
        log::warning("webhook delivery not stored", {{"tenant", target.tenant_id}, {"error", stored.error().message}});
        HookAnswer busy = refuse(503, "unavailable", "cannot store this delivery right now; retry later");
        busy.retry_after = std::chrono::seconds(1);
        co_return busy;
    }
    if (!*stored) {
        deduplicated().with({}).inc();
        log::debug("webhook redelivery", {{"tenant", target.tenant_id}, {"crm", target.crm_type}, {"event_id", delivery->event_id}});
        co_return HookAnswer{200, "duplicate", {}};
    }
    received().with({}).inc();
    log::info("webhook stored", {{"tenant", target.tenant_id}, {"crm", target.crm_type}, {"event", delivery->event},
                                 {"event_id", delivery->event_id}});
    if (stored_) stored_();
    co_return HookAnswer{200, "stored", {}};
}

}  // namespace rollout_mcp
