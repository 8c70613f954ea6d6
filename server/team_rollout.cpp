// Team settings -> RolloutClient, and the per-team connector cache.
#include "team_rollout.hpp"

#include <boost/json/parse.hpp>

namespace rollout_mcp {
namespace json = boost::json;

json::object RolloutSettings::to_json() const {
    return {{"projectEnvKey", project_env_key},
            {"clientId", client_id},
            {"endpoints", json::object{{"platform", endpoints.platform},
                                       {"crm", endpoints.crm},
                                       {"automation", endpoints.automation}}}};
}

std::optional<RolloutSettings> RolloutSettings::from_json(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    auto str = [](const json::object& obj, std::string_view key) -> std::string {
        const auto* p = obj.if_contains(key);
        return p && p->is_string() ? std::string(p->get_string()) : std::string();
    };
    RolloutSettings s;
    s.project_env_key = str(o, "projectEnvKey");
    s.client_id = str(o, "clientId");
    const auto* e = o.if_contains("endpoints");
    if (!e || !e->is_object()) return std::nullopt;
    s.endpoints.platform = str(e->get_object(), "platform");
    s.endpoints.crm = str(e->get_object(), "crm");
    s.endpoints.automation = str(e->get_object(), "automation");
    return s;
}

TeamRollout::TeamRollout(StorageExecutor& storage, std::shared_ptr<rollout::HttpPool> pool,
                         std::chrono::seconds connector_cache_ttl)
    : storage_(storage), pool_(std::move(pool)), ttl_(connector_cache_ttl) {}

std::shared_ptr<rollout::RolloutClient> TeamRollout::client_for(const std::string& tenant,
                                                                const RolloutSettings& settings,
                                                                std::string secret) const {
    rollout::ClientConfig config;
    config.endpoints = settings.endpoints;
    if (settings.client_id.empty())
        config.auth = std::make_shared<rollout::TokenSource>(rollout::TokenSource::pre_minted(std::move(secret)));
    else
        config.auth = std::make_shared<rollout::TokenSource>(
            rollout::TokenSource::minted({settings.client_id, std::move(secret), tenant}));
    return std::make_shared<rollout::RolloutClient>(pool_, std::move(config));
}

boost::asio::awaitable<std::variant<std::shared_ptr<rollout::RolloutClient>, ToolFailure>> TeamRollout::client(
    const std::string& tenant) {
    // Results are built in named locals before co_return: GCC 12 mis-destroys temporaries in co_return
    // expressions that convert to another type.
    std::variant<std::shared_ptr<rollout::RolloutClient>, ToolFailure> out;
    // A named closure: GCC 12 destroys a closure temporary inside co_await twice.
    auto storage_op1 = [tenant](storage::Storage& s) { return s.get_rollout_config(tenant); };
    auto stored = co_await storage_.run(std::move(storage_op1));
    if (!stored) {
        ToolFailure failure;
        failure.message = stored.error().code == storage::ErrorCode::not_found
                              ? "Rollout is not configured for this team: call configure_rollout first"
                              : "cannot read this team's Rollout settings: " + stored.error().message;
        failure.transient = stored.error().code == storage::ErrorCode::busy;
        out = std::move(failure);
        co_return out;
    }
    auto settings = RolloutSettings::from_json(stored->settings_json);
    if (!settings) {
        out = ToolFailure{"this team's stored Rollout settings are unreadable: configure_rollout again"};
        co_return out;
    }
    std::string secret(stored->secret.text());
    out = client_for(tenant, *settings, std::move(secret));
    co_return out;
}

boost::asio::awaitable<rollout::Result<std::vector<rollout::Connector>>> TeamRollout::connectors(
    const std::string& tenant, rollout::RolloutClient& client) {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mu_);
        auto it = connectors_.find(tenant);
        if (it != connectors_.end() && now - it->second.at < ttl_) {
            rollout::Result<std::vector<rollout::Connector>> cached(it->second.connectors);
            co_return cached;
        }
    }
    auto fresh = co_await client.list_connectors();
    if (fresh) {
        std::lock_guard lock(mu_);
        connectors_[tenant] = {now, *fresh};
    }
    co_return fresh;
}

void TeamRollout::forget(const std::string& tenant) {
    std::lock_guard lock(mu_);
    connectors_.erase(tenant);
}

}  // namespace rollout_mcp
