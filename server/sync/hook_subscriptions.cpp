// Subscribing a team's CRM connection to Rollout's webhooks (see hook_subscriptions.hpp).
#include "server/sync/hook_subscriptions.hpp"

#include "server/sync/hook_mapping.hpp"

#include "base/utc_time.hpp"
#include "server/app/log.hpp"
#include "rollout/errors.hpp"
#include "rollout/jwt.hpp"

#include <boost/json/object.hpp>

#include <algorithm>

namespace rollout_mcp {
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kNoPublicUrl =
    "[server] public_url is empty: Rollout cannot reach this server, so the CRM's changes do not come back (set it to "
    "the https address Rollout reaches this server at)";
constexpr std::string_view kNoKey =
    "no webhook key: pass webhookSecret to configure_rollout (with an authToken alone there is no clientSecret to "
    "check Rollout's webhook signatures with)";

// The team's webhook key is set ("" when it is), or why not.
std::string key_problem(storage::Storage& storage, const std::string& tenant) {
    auto stored = storage.get_rollout_config(tenant);
    if (!stored) return "Rollout is not configured for this team: call configure_rollout";
    const auto settings = RolloutSettings::from_json(stored->settings_json);
    if (!settings) return "the stored Rollout settings are unreadable: call configure_rollout again";
    return webhook_key(*settings, *stored).empty() ? std::string(kNoKey) : std::string();
}

}  // namespace

HookSubscriptions::HookSubscriptions(TeamRollout& teams, std::string public_url)
    : teams_(teams), public_url_(std::move(public_url)) {}

boost::asio::awaitable<HookSubscriptionState> HookSubscriptions::subscribe(std::string tenant, std::string crm_type) {
    HookSubscriptionState out;
    if (public_url_.empty()) {
        out.reason = kNoPublicUrl;
        co_return out;
    }
    out.reason = co_await teams_.storage().call(&key_problem, tenant);
    if (!out.reason.empty()) co_return out;
    auto connection = co_await teams_.storage().call(&storage::Storage::get_crm_connection, tenant, crm_type);
    if (!connection) {
        out.reason = "no " + crm_type + " connection is stored for this team";
        co_return out;
    }
    const std::string credential(connection->credential_key.text());
    auto client = co_await teams_.client(tenant);
    if (!client) {
        out.reason = client.error().message;
        co_return out;
    }
    // Our earlier subscriptions on this credential point at a route about to be replaced: they go first.
    auto removed = co_await unsubscribe(tenant, credential);
    if (!removed) {
        out.reason = "cannot read the credential's webhook subscriptions at Rollout: " +
                     hook_mapping::scrub(removed.error().describe(), {credential}) + " (call configure_crm_connection again)";
        co_return out;
    }
    auto route = co_await teams_.storage().call(&storage::Storage::issue_hook_route, tenant, crm_type);
    if (!route) {
        out.reason = "cannot store the webhook route: " + route.error().message;
        co_return out;
    }
    const std::string url = public_url_ + "/hooks/rollout/" + std::string(route->text());
    for (auto event : kHookEvents) {
        // Named arguments: GCC 12 mishandles temporaries with destructors inside a co_await expression.
        const json::value body = json::object{{"url", url}, {"event", event}, {"filters", json::object{}}};
        const std::string path = "/webhooks";
        auto made = co_await (*client)->request(rollout::Host::crm, http::verb::post, path, body,
                                                credential);
        if (!made) {
            // The route is in the url: the error names the event and Rollout's answer, never the url.
            const auto said = hook_mapping::scrub(made.error().describe(), {url, route->text(), credential});
            log::warning("webhook subscription failed",
                         {{"tenant", tenant}, {"crm", crm_type}, {"event", std::string(event)}, {"error", said}});
            out.reason = "Rollout refused the webhook subscription for " + std::string(event) + ": " + said +
                         " (call configure_crm_connection again)";
            co_return out;
        }
        ++out.events;
    }
    // Only now: a connection whose subscriptions are partly made stays with the reconcile loop and the poller. And
    // only while our route is still the connection's: a newer attempt replaced it, and that attempt marks its own.
    const std::string route_text(route->text());
    auto current = co_await teams_.storage().call(&storage::Storage::find_hook_route, route_text);
    if (!current || current->tenant_id != tenant || current->crm_type != crm_type) {
        out.reason = "a newer webhook subscription replaced this one";
        co_return out;
    }
    auto marked = co_await teams_.storage().call(&storage::Storage::set_hook_subscribed, tenant, crm_type, true,
                                                  unix_now_ms());
    if (!marked) log::warning("cannot record the webhook subscription", {{"tenant", tenant}, {"error", marked.error().message}});
    out.subscribed = true;
    log::info("webhooks subscribed", {{"tenant", tenant}, {"crm", crm_type}, {"events", out.events}});
    co_return out;
}

boost::asio::awaitable<Result<int>> HookSubscriptions::unsubscribe(std::string tenant, std::string credential) {
    if (public_url_.empty()) co_return 0;
    auto client = co_await teams_.client(tenant);
    if (!client) co_return client.error();
    const std::string list_path = "/webhooks";
    auto existing = co_await (*client)->list_all(credential, list_path);
    if (!existing) co_return existing.error();
    const std::string ours = public_url_ + "/hooks/rollout/";
    int removed = 0;
    for (const auto& sub : *existing) {
        const auto* url = sub.if_contains("url");
        if (!url || !url->is_string() || std::string_view(url->get_string()).substr(0, ours.size()) != ours) continue;
        // Another team may use the same credential (one CRM account, two teams): only a route of this team, or a
        // route no connection has any more (it answers 404 anyway), is removed.
        const std::string route(std::string_view(url->get_string()).substr(ours.size()));
        auto owner = co_await teams_.storage().call(&storage::Storage::find_hook_route, route);
        if (owner && owner->tenant_id != tenant) continue;
        if (!owner && owner.error().code != storage::ErrorCode::not_found) co_return owner.error();
        const auto* id_value = sub.if_contains("id");
        const std::string id = id_value ? rollout::id_of(*id_value) : std::string();
        if (id.empty()) continue;
        const std::string path = "/webhooks/" + rollout::url_encode(id);
        const json::value no_body;
        auto gone = co_await (*client)->request(rollout::Host::crm, http::verb::delete_, path, no_body, credential);
        if (!gone && gone.error().code != rollout::ErrorKind::not_found) co_return gone.error();
        ++removed;
    }
    co_return removed;
}

boost::asio::awaitable<Result<int>> HookSubscriptions::repair(std::string tenant, std::string crm_type) {
    Result<int> out;
    auto connection = co_await teams_.storage().call(&storage::Storage::get_crm_connection, tenant, crm_type);
    if (!connection) {
        out = connection.error();
        co_return out;
    }
    const std::string credential(connection->credential_key.text());
    auto client = co_await teams_.client(tenant);
    if (!client) {
        out = client.error();
        co_return out;
    }
    // A search: a list cut short would read as missing subscriptions.
    const std::string list_path = "/webhooks";
    auto existing = co_await (*client)->list_all(credential, list_path, true);
    if (!existing) {
        out = Error{existing.error().code, hook_mapping::scrub(existing.error().describe(), {credential})};
        co_return out;
    }
    const std::string ours = public_url_ + "/hooks/rollout/";
    std::string route_url;
    std::vector<std::string> covered, disabled;
    for (const auto& sub : *existing) {
        const auto* url = sub.if_contains("url");
        const auto* event = sub.if_contains("event");
        if (!url || !url->is_string() || !event || !event->is_string()) continue;
        if (std::string_view(url->get_string()).substr(0, ours.size()) != ours) continue;
        const std::string route(std::string_view(url->get_string()).substr(ours.size()));
        auto owner = co_await teams_.storage().call(&storage::Storage::find_hook_route, route);
        if (!owner && owner.error().code != storage::ErrorCode::not_found) {
            out = owner.error();
            co_return out;
        }
        // A replaced route no longer resolves: its subscriptions do not cover the connection.
        if (!owner || owner->tenant_id != tenant || owner->crm_type != crm_type) continue;
        route_url = std::string(url->get_string());
        const auto* status = sub.if_contains("status");
        if (status && status->is_string() && status->get_string() == "Disabled") {
            if (const auto* id = sub.if_contains("id")) disabled.push_back(rollout::id_of(*id));
        } else {
            covered.emplace_back(event->get_string());
        }
    }
    if (route_url.empty()) {   // nothing names the route: subscribe afresh
        const auto state = co_await subscribe(tenant, crm_type);
        if (state.subscribed) out = state.events;
        else out = Error{std::make_error_code(std::errc::resource_unavailable_try_again), state.reason};
        co_return out;
    }
    const std::string route = route_url.substr(ours.size());
    const json::value no_body;
    for (const auto& id : disabled) {
        if (id.empty()) continue;
        const std::string path = "/webhooks/" + rollout::url_encode(id);
        auto gone = co_await (*client)->request(rollout::Host::crm, http::verb::delete_, path, no_body, credential);
        if (!gone && gone.error().code != rollout::ErrorKind::not_found) {
            out = Error{gone.error().code, hook_mapping::scrub(gone.error().describe(), {route_url, route, credential})};
            co_return out;
        }
    }
    int made = 0;
    for (auto event : kHookEvents) {
        if (std::find(covered.begin(), covered.end(), event) != covered.end()) continue;
        const json::value body = json::object{{"url", route_url}, {"event", event}, {"filters", json::object{}}};
        const std::string path = "/webhooks";
        auto posted = co_await (*client)->request(rollout::Host::crm, http::verb::post, path, body, credential);
        if (!posted) {
            out = Error{posted.error().code,
                        "subscribing " + std::string(event) + " again: " +
                            hook_mapping::scrub(posted.error().describe(), {route_url, route, credential})};
            co_return out;
        }
        ++made;
    }
    out = made;
    co_return out;
}

std::string change_notice(storage::Storage& storage, const std::string& tenant, const std::string& public_url) {
    if (public_url.empty()) return std::string(kNoPublicUrl);
    return key_problem(storage, tenant);
}

RolloutAuthView rollout_auth_view(storage::Storage& storage, const std::string& tenant) {
    RolloutAuthView out;
    auto stored = storage.get_rollout_config(tenant);
    if (!stored) return out;
    const auto settings = RolloutSettings::from_json(stored->settings_json);
    if (!settings) return out;
    if (!settings->client_id.empty()) {
        out.mode = "clientSecret";
        return out;
    }
    out.mode = "authToken";
    // Clamped to year 9999: a hostile exp must not overflow the callers' milliseconds.
    out.expires_at_s = std::clamp<std::int64_t>(rollout::jwt_expiry(stored->secret.text()).value_or(0), 0,
                                                253'402'300'799);
    return out;
}

}  // namespace rollout_mcp
