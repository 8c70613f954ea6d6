// Each team's way to Rollout: its sealed settings from the store turned into a RolloutClient over the
// process-wide connection pool, plus a short per-team cache of Rollout's connector catalogue.
#pragma once

#include "storage_executor.hpp"

#include "rollout/client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

namespace rollout_mcp {

// What configure_rollout stores (secret part sealed separately).
struct RolloutSettings {
    std::string project_env_key;
    std::string client_id;                   // empty: `secret` is a pre-minted token
    rollout::RolloutEndpoints endpoints;
    boost::json::object to_json() const;
    static std::optional<RolloutSettings> from_json(std::string_view text);
};

// A tool-facing failure: the message names the problem (and the field, when it is the caller's).
struct ToolFailure {
    std::string message;
    bool transient = false;   // the store could not be read (busy): a later try may work
};

class TeamRollout {
public:
    TeamRollout(StorageExecutor& storage, std::shared_ptr<rollout::HttpPool> pool,
                std::chrono::seconds connector_cache_ttl = std::chrono::seconds(60));

    // A client built from explicit settings (configure_rollout verifies before storing).
    std::shared_ptr<rollout::RolloutClient> client_for(const std::string& tenant, const RolloutSettings& settings,
                                                       std::string secret) const;
    // The team's stored configuration as a client, or a failure saying configure_rollout is needed.
    boost::asio::awaitable<std::variant<std::shared_ptr<rollout::RolloutClient>, ToolFailure>> client(
        const std::string& tenant);
    // Rollout's connectors, cached per team for a short time.
    boost::asio::awaitable<rollout::Result<std::vector<rollout::Connector>>> connectors(const std::string& tenant,
                                                                                        rollout::RolloutClient& client);
    void forget(const std::string& tenant);   // after configure_rollout
    // Drops pooled connections; call once the I/O threads have stopped, before the io_context goes.
    void shutdown() { pool_->close_idle(); }

    StorageExecutor& storage() { return storage_; }

private:
    StorageExecutor& storage_;
    std::shared_ptr<rollout::HttpPool> pool_;
    const std::chrono::seconds ttl_;
    std::mutex mu_;
    struct Cached {
        std::chrono::steady_clock::time_point at;
        std::vector<rollout::Connector> connectors;
    };
    std::map<std::string, Cached> connectors_;
};

}  // namespace rollout_mcp
