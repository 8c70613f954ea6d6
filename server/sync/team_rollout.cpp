// Team settings -> RolloutClient, and the per-team connector cache.
#include "server/sync/team_rollout.hpp"

#include "server/app/log.hpp"
#include "server/app/origin.hpp"
#include "server/sync/rollout_field_rules.hpp"

#include <boost/json/parse.hpp>

namespace rollout_mcp {
namespace json = boost::json;

json::object RolloutSettings::to_json() const {
    json::object o{{"projectEnvKey", project_env_key},
                   {"clientId", client_id},
                   {"endpoints", json::object{{"platform", endpoints.platform},
                                              {"crm", endpoints.crm},
                                              {"automation", endpoints.automation}}}};
    if (!time_zone.empty()) o["timeZone"] = time_zone;
    return o;
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
    s.time_zone = str(o, "timeZone");
    const auto* e = o.if_contains("endpoints");
    if (!e || !e->is_object()) return std::nullopt;
    s.endpoints.platform = str(e->get_object(), "platform");
    s.endpoints.crm = str(e->get_object(), "crm");
    s.endpoints.automation = str(e->get_object(), "automation");
    return s;
}

std::string_view webhook_key(const RolloutSettings& settings, const storage::RolloutConfig& stored) {
    if (stored.webhook_secret.size() > 0) return stored.webhook_secret.text();
    return settings.client_id.empty() ? std::string_view() : stored.secret.text();
}

TeamRollout::TeamRollout(StorageExecutor& storage, std::shared_ptr<rollout::HttpPool> pool,
                         std::vector<std::string> allowed_base_urls, std::chrono::seconds connector_cache_ttl,
                         std::size_t secret_cache_teams)
    : storage_(storage), pool_(std::move(pool)), allowed_base_urls_(std::move(allowed_base_urls)),
      ttl_(connector_cache_ttl), cache_(secret_cache_teams) {}

std::optional<std::string> TeamRollout::disallowed_endpoint(const RolloutSettings& settings) const {
    const rollout::RolloutEndpoints defaults;
    const auto automation = rollout::RolloutEndpoints::automation_for(settings.project_env_key);
    const std::pair<const std::string*, std::string> checks[] = {
        {&settings.endpoints.platform, defaults.platform},
        {&settings.endpoints.crm, defaults.crm},
        {&settings.endpoints.automation, automation},
    };
    for (const auto& [url, fallback] : checks) {
        if (*url == fallback || (url == &settings.endpoints.automation && url->empty())) continue;
        auto origin = origin_of_url(*url);
        if (!origin) return *url;
        if (!origin_listed(allowed_base_urls_, *origin)) return *origin;
    }
    return std::nullopt;
}

std::optional<std::string> TeamRollout::settings_field_problem(const RolloutSettings& settings,
                                                               std::string_view secret) {
    if (auto bad = field_problem(RolloutField::project_env_key, settings.project_env_key)) return bad;
    if (settings.client_id.empty()) return field_problem(RolloutField::auth_token, secret);
    if (auto bad = field_problem(RolloutField::client_id, settings.client_id)) return bad;
    return field_problem(RolloutField::client_secret, secret);
}

std::optional<std::string> TeamRollout::stored_settings_problem(const RolloutSettings& settings,
                                                                std::string_view secret) const {
    if (auto bad = settings_field_problem(settings, secret))
        return "this team's stored Rollout settings are not usable (" + *bad + "): call configure_rollout again";
    if (auto origin = disallowed_endpoint(settings))
        return "this team's stored Rollout baseUrl (" + *origin +
               ") is not in this server's [rollout] allowed_base_urls: call configure_rollout again with an allowed "
               "baseUrl, or without one to use Rollout's own hosts";
    return std::nullopt;
}

std::shared_ptr<rollout::RolloutClient> TeamRollout::client_for(const std::string& tenant,
                                                                const RolloutSettings& settings,
                                                                std::string secret) const {
    rollout::ClientConfig config;
    config.endpoints = settings.endpoints;
    config.partition = tenant;   // the team's own pooled connections and its fair share of each Rollout host
    config.gate = gate_;         // the team's Rollout rate, shared by every instance
    if (settings.client_id.empty())
        config.auth = std::make_shared<rollout::TokenSource>(rollout::TokenSource::pre_minted(std::move(secret)));
    else
        config.auth = std::make_shared<rollout::TokenSource>(
            rollout::TokenSource::minted({settings.client_id, std::move(secret), tenant}));
    return std::make_shared<rollout::RolloutClient>(pool_, std::move(config));
}

boost::asio::awaitable<Result<std::shared_ptr<const TeamConfig>>> TeamRollout::config(const std::string& tenant) {
    // Results are built in named locals before co_return: GCC 12 mis-destroys temporaries in co_return
    // expressions that convert to another type.
    Result<std::shared_ptr<const TeamConfig>> out;
    if (auto cached = cache_.find(tenant)) {
        out = std::move(cached);
        co_return out;
    }
    const auto asked = TeamConfigCache::Clock::now();
    auto snapshot = co_await storage_.call(&storage::Storage::get_team_config, tenant);
    if (!snapshot) {
        out = std::move(snapshot).error();   // the storage code and message: callers say what they were reading
        co_return out;
    }
    std::optional<RolloutSettings> settings;
    std::optional<std::string> problem;
    if (snapshot->rollout && snapshot->rollout_unreadable.empty()) {
        settings = RolloutSettings::from_json(snapshot->rollout->settings_json);
        // Stored values are checked again: they were written by an older version, or the operator has since
        // removed the team's baseUrl from the list. Permanent: retrying cannot help until the team reconfigures.
        if (!settings) problem = "this team's stored Rollout settings are unreadable: configure_rollout again";
        else problem = stored_settings_problem(*settings, snapshot->rollout->secret.text());
    }
    out = cache_.put(tenant, std::move(*snapshot), std::move(settings), std::move(problem), asked);
    co_return out;
}

Result<std::shared_ptr<rollout::RolloutClient>> TeamRollout::client_from(const std::string& tenant,
                                                                         const TeamConfig& team) const {
    if (!team.unreadable.empty())
        return Error{storage::ErrorCode::crypto, "cannot read this team's Rollout settings: " + team.unreadable};
    if (team.problem) return invalid_argument(*team.problem);
    if (!team.settings)
        return Error{storage::ErrorCode::not_found, "Rollout is not configured for this team: call configure_rollout first"};
    return client_for(tenant, *team.settings, std::string(team.secret));
}

boost::asio::awaitable<Result<std::shared_ptr<rollout::RolloutClient>>> TeamRollout::client(const std::string& tenant) {
    Result<std::shared_ptr<rollout::RolloutClient>> out;
    auto config = co_await this->config(tenant);
    if (!config) {
        Error failure = std::move(config).error();   // keeps the storage code: busy is worth a later try
        failure.message = failure.code == storage::ErrorCode::not_found
                              ? "Rollout is not configured for this team: call configure_rollout first"
                              : "cannot read this team's Rollout settings: " + failure.message;
        out = std::move(failure);
        co_return out;
    }
    out = client_from(tenant, **config);
    co_return out;
}

boost::asio::awaitable<std::string> TeamRollout::default_time_zone(const std::string& tenant) {
    auto config = co_await this->config(tenant);
    if (!config || !(*config)->settings) co_return std::string();
    co_return (*config)->settings->time_zone;
}

boost::asio::awaitable<Result<std::vector<rollout::Connector>>> TeamRollout::connectors(
    const std::string& tenant, rollout::RolloutClient& client) {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mu_);
        auto it = connectors_.find(tenant);
        if (it != connectors_.end() && now - it->second.at < ttl_) {
            Result<std::vector<rollout::Connector>> cached(it->second.connectors);
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
    cache_.forget(tenant);
    std::lock_guard lock(mu_);
    connectors_.erase(tenant);
}

void warn_disallowed_base_urls(storage::Storage& storage, const TeamRollout& team) {
    auto tenants = storage.list_tenants();
    if (!tenants) {
        log::warning("cannot list teams to check their Rollout base URLs", {{"error", tenants.error().message}});
        return;
    }
    for (const auto& t : *tenants) {
        auto stored = storage.get_rollout_config(t.id);
        if (!stored) continue;   // not configured (or unreadable: its tool calls will say so)
        auto settings = RolloutSettings::from_json(stored->settings_json);
        if (!settings) continue;
        if (auto origin = team.disallowed_endpoint(*settings))
            log::warning("a team's stored Rollout baseUrl is not in [rollout] allowed_base_urls; its Rollout calls and "
                         "sync jobs fail until it runs configure_rollout again",
                         {{"team", t.name}, {"origin", *origin}});
    }
}

}  // namespace rollout_mcp
