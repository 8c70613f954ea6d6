// Each team's way to Rollout: its sealed settings from the store turned into a RolloutClient over the
// process-wide connection pool, plus a short per-team cache of Rollout's connector catalogue.
#pragma once

#include "server/sync/team_config_cache.hpp"
#include "storage/storage_executor.hpp"

#include "rollout/client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rollout_mcp {

// configure_rollout's webhookSecret: at least this long (it is an HMAC key), at most the field rule's 1024.
inline constexpr std::size_t kMinWebhookSecret = 16;

// The key that signs this team's Rollout webhooks (X-Rollout-Signature): its webhookSecret when one was
// given, else its clientSecret in clientId + clientSecret mode (Rollout signs with the Client Secret); ""
// when there is none (a pre-minted authToken alone), and then the team gets no subscriptions.
std::string_view webhook_key(const RolloutSettings& settings, const storage::RolloutConfig& stored);

class TeamRollout {
public:
    // `allowed_base_urls`: [rollout] allowed_base_urls, normalized origins a team may aim its endpoints at
    // besides Rollout's own hosts.
    TeamRollout(StorageExecutor& storage, std::shared_ptr<rollout::HttpPool> pool,
                std::vector<std::string> allowed_base_urls,
                std::chrono::seconds connector_cache_ttl = std::chrono::seconds(60),
                std::size_t secret_cache_teams = 1'000);

    const std::vector<std::string>& allowed_base_urls() const { return allowed_base_urls_; }
    // Every client made from now on passes its requests through `gate` (the team's Rollout rate, see
    // rollout_rate_gate.hpp); null: no gate. Set it at start-up, before any client is made.
    void set_request_gate(std::shared_ptr<rollout::RequestGate> gate) { gate_ = std::move(gate); }
    // The origin of the first stored endpoint that is neither Rollout's default for it nor in
    // allowed_base_urls (the raw URL when it has no usable origin); nullopt when all may be used.
    std::optional<std::string> disallowed_endpoint(const RolloutSettings& settings) const;
    // The first field rule (rollout_field_rules.hpp) that settings + secret break, as "<field>: <shape>".
    static std::optional<std::string> settings_field_problem(const RolloutSettings& settings, std::string_view secret);
    // Why stored settings + secret must not be used (a field rule or a disallowed endpoint), for the team.
    std::optional<std::string> stored_settings_problem(const RolloutSettings& settings, std::string_view secret) const;

    // A client built from explicit settings (configure_rollout verifies before storing).
    std::shared_ptr<rollout::RolloutClient> client_for(const std::string& tenant, const RolloutSettings& settings,
                                                       std::string secret) const;
    // The team's opened configuration (team_config_cache.hpp): cached while confirmed current, else read in one
    // storage call. storage::ErrorCode::busy when the store could not be read and a later try may work.
    boost::asio::awaitable<Result<std::shared_ptr<const TeamConfig>>> config(const std::string& tenant);
    // What the store says the team's configuration version is now (an API key check, a job claim).
    void observe_config_version(const std::string& tenant, std::int64_t version) { cache_.observe(tenant, version); }
    TeamConfigCache& config_cache() { return cache_; }
    // The team's stored configuration as a client, or a failure whose message names the problem for the
    // team (configure_rollout is needed, or a stored field is refused); storage::ErrorCode::busy when the
    // store could not be read and a later try may work. client_from: the same from a configuration in hand.
    Result<std::shared_ptr<rollout::RolloutClient>> client_from(const std::string& tenant, const TeamConfig& team) const;
    boost::asio::awaitable<Result<std::shared_ptr<rollout::RolloutClient>>> client(const std::string& tenant);
    // The team's default time zone (configure_rollout timeZone), "" when none or not configured.
    boost::asio::awaitable<std::string> default_time_zone(const std::string& tenant);
    // Rollout's connectors, cached per team for a short time.
    boost::asio::awaitable<Result<std::vector<rollout::Connector>>> connectors(const std::string& tenant,
                                                                                        rollout::RolloutClient& client);
    void forget(const std::string& tenant);   // after configure_rollout or configure_crm_connection

    StorageExecutor& storage() { return storage_; }

private:
    StorageExecutor& storage_;
    std::shared_ptr<rollout::HttpPool> pool_;
    const std::vector<std::string> allowed_base_urls_;
    const std::chrono::seconds ttl_;
    std::shared_ptr<rollout::RequestGate> gate_;
    std::mutex mu_;
    struct Cached {
        std::chrono::steady_clock::time_point at;
        std::vector<rollout::Connector> connectors;
    };
    std::map<std::string, Cached> connectors_;
    TeamConfigCache cache_;
};

// Start-up: one warning per team whose stored Rollout endpoints the running server no longer allows (its
// sync jobs will fail permanently until it runs configure_rollout again).
void warn_disallowed_base_urls(storage::Storage& storage, const TeamRollout& team);

}  // namespace rollout_mcp
