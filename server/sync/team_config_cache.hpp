// TeamConfigCache: the opened configuration of recently active teams (Rollout settings, the Rollout secret and
// every CRM connection's credential id), so a synced tour reads and opens it once per change of the team's
// configuration instead of three times per tour (README "Sync path CPU").
//
// Freshness: the store stamps the configuration with a version that every change raises
// (storage/team_config.hpp), and hands the current one out with every API key check and every job claim.
// Those call observe(): an entry older than what was observed is dropped before the call goes on, so a change
// made by another instance or process is seen by the next request or job of that team. An entry is used only
// while it was confirmed (loaded, or its version observed) within the confirm window; a path that observes
// nothing (webhook processing, the reconcile loop) therefore reads the store again once that has passed.
//
// The secrets of all entries share one bounded SecretArena; an entry that no longer fits evicts the least
// recently used ones, and a team whose secrets do not fit at all keeps its own guarded buffers uncached.
#pragma once

#include "server/sync/rollout_settings.hpp"
#include "server/sync/secret_arena.hpp"
#include "storage/team_config.hpp"

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rollout_mcp {

// One team's configuration as it was at `version`; immutable, shared by the calls using it.
struct TeamConfig {
    struct Connection {
        storage::CrmConnectionInfo info;
        bool shared_with_other_team = false;
        std::string_view credential_key;   // in `block` or `own`
        std::string unreadable;            // why its credential id did not open ("" when it did): this CRM only
    };
    std::int64_t version = 0;
    bool legacy_markers = true;                // storage::TeamConfigSnapshot::legacy_markers
    std::optional<RolloutSettings> settings;   // nullopt: configure_rollout was never called (or did not open)
    std::optional<std::string> problem;        // why the stored settings must not be used (for the team)
    std::string unreadable;                    // why the stored Rollout settings did not open ("" when they did)
    std::string_view secret;                   // the Rollout client secret or token, in `block` or `own`
    std::vector<Connection> connections;       // ordered by crm_type

    const Connection* connection(std::string_view crm_type) const;

    // Where the views above point: one arena block, or (no room, or no arena) the snapshot's own buffers.
    std::unique_ptr<SecretArena::Block> block;
    std::vector<crypto::SecretBytes> own;
};

class TeamConfigCache {
public:
    static constexpr std::size_t kArenaBytesPerTeam = 2048;
    using Clock = std::chrono::steady_clock;

    static constexpr std::size_t kMaxTeams = 100'000;   // the arena is mapped and locked at start: 200 MiB at most

    // max_teams 0: nothing is kept (every use reads the store); at most kMaxTeams (the config key's bound).
    explicit TeamConfigCache(std::size_t max_teams, std::chrono::milliseconds confirm_window = std::chrono::seconds(1));

    bool enabled() const { return max_teams_ > 0; }
    // The store's current version for the team (an API key check, a job claim).
    void observe(const std::string& tenant, std::int64_t version);
    // The team's entry if it is confirmed current, else null.
    std::shared_ptr<const TeamConfig> find(const std::string& tenant);
    // Builds an entry from a snapshot read from the store at `asked` (the time the read was started), its secrets
    // copied into the arena (the snapshot's own buffers are kept when they do not fit), and keeps it unless a newer
    // version was observed or the team forgotten since `asked`. The snapshot's Rollout settings are the caller's
    // `settings` and `problem` (parsed and checked by TeamRollout).
    std::shared_ptr<const TeamConfig> put(const std::string& tenant, storage::TeamConfigSnapshot snapshot,
                                          std::optional<RolloutSettings> settings, std::optional<std::string> problem,
                                          Clock::time_point asked);
    // This instance changed the team's settings: drop its entry, and any read that started before now.
    void forget(const std::string& tenant);

    std::size_t size() const;
    std::size_t arena_free_bytes() const { return arena_ ? arena_->free_bytes() : 0; }

private:
    struct Node {
        std::shared_ptr<const TeamConfig> config;   // may be null: only an observation is known
        std::int64_t observed = -1;                 // the highest version observed or loaded
        Clock::time_point confirmed_at{};
        Clock::time_point forgotten_at{};           // reads started before this are not kept
        std::list<std::string>::iterator lru;
    };
    Node& touch(const std::string& tenant);   // under mu_: finds or makes the node, most recent first
    bool evict_one_config();                   // under mu_: the least recently used entry's config

    const std::size_t max_teams_;
    const std::chrono::milliseconds window_;
    std::shared_ptr<SecretArena> arena_;
    mutable std::mutex mu_;
    std::list<std::string> order_;   // most recently used first
    Clock::time_point evicted_forgotten_at_{};   // the latest forgotten_at of a node the LRU dropped
    std::unordered_map<std::string, Node> nodes_;
};

}  // namespace rollout_mcp
