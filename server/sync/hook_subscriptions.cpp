// Subscribing a team's CRM connection to Rollout's webhooks (see hook_subscriptions.hpp).
#include "server/sync/hook_subscriptions.hpp"

#include "server/app/log.hpp"
#include "rollout/errors.hpp"

#include <boost/json/object.hpp>

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
        out.reason = "cannot read the credential's webhook subscriptions at Rollout: " + removed.error().describe() +
                     " (call configure_crm_connection again)";
        co_return out;
    }
    auto route = co_await teams_.storage().call(&storage::Storage::issue_hook_route, tenant, crm_type);
    if (!route) {
        out.reason = "cannot store the webhook route: " + route.error().message;
        co_return out;
    }
    const std::string url = public_url_ + "/hooks/rollout/" + std::string(route->text());
    for (auto event : kHookEvents) {
        json::value body = json::object{{"url", url}, {"event", event}, {"filters", json::object{}}};
        auto made = co_await (*client)->request(rollout::Host::crm, http::verb::post, "/webhooks", std::move(body),
                                                credential);
        if (!made) {
            // The route is in the url: the error names the event and Rollout's answer, never the url.
            log::warning("webhook subscription failed", {{"tenant", tenant}, {"crm", crm_type},
                                                         {"event", std::string(event)}, {"error", made.error().describe()}});
            out.reason = "Rollout refused the webhook subscription for " + std::string(event) + ": " +
                         made.error().describe() + " (call configure_crm_connection again)";
            co_return out;
        }
        ++out.events;
    }
    out.subscribed = true;
    log::info("webhooks subscribed", {{"tenant", tenant}, {"crm", crm_type}, {"events", out.events}});
    co_return out;
}

boost::asio::awaitable<Result<int>> HookSubscriptions::unsubscribe(std::string tenant, std::string credential) {
    if (public_url_.empty()) co_return 0;
    auto client = co_await teams_.client(tenant);
    if (!client) co_return client.error();
    auto existing = co_await (*client)->list_all(credential, "/webhooks");
    if (!existing) co_return existing.error();
    const std::string ours = public_url_ + "/hooks/rollout/";
    int removed = 0;
    for (const auto& sub : *existing) {
        const auto* url = sub.if_contains("url");
        if (!url || !url->is_string() || std::string_view(url->get_string()).substr(0, ours.size()) != ours) continue;
        const std::string id = rollout::id_of(sub.contains("id") ? sub.at("id") : json::value());
        if (id.empty()) continue;
        auto gone = co_await (*client)->request(rollout::Host::crm, http::verb::delete_,
                                                "/webhooks/" + rollout::url_encode(id), nullptr, credential);
        if (!gone && gone.error().code != rollout::ErrorKind::not_found) co_return gone.error();
        ++removed;
    }
    co_return removed;
}

std::string change_notice(storage::Storage& storage, const std::string& tenant, const std::string& public_url) {
    if (public_url.empty()) return std::string(kNoPublicUrl);
    return key_problem(storage, tenant);
}

}  // namespace rollout_mcp
