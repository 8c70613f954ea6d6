// The LRU of team configurations and the copy of their secrets into the shared arena.
#include "server/sync/team_config_cache.hpp"

#include <cstring>

namespace rollout_mcp {

const TeamConfig::Connection* TeamConfig::connection(std::string_view crm_type) const {
    for (const auto& c : connections)
        if (c.info.crm_type == crm_type) return &c;
    return nullptr;
}

TeamConfigCache::TeamConfigCache(std::size_t max_teams, std::chrono::milliseconds confirm_window)
    : max_teams_(std::min(max_teams, kMaxTeams)), window_(confirm_window),
      arena_(max_teams_ > 0 ? SecretArena::create(max_teams_ * kArenaBytesPerTeam) : nullptr) {}

TeamConfigCache::Node& TeamConfigCache::touch(const std::string& tenant) {
    auto it = nodes_.find(tenant);
    if (it != nodes_.end()) {
        order_.splice(order_.begin(), order_, it->second.lru);
        return it->second;
    }
    while (nodes_.size() >= max_teams_ && !order_.empty()) {
        // A read that started before a forget of the dropped team must still not be kept.
        evicted_forgotten_at_ = std::max(evicted_forgotten_at_, nodes_.at(order_.back()).forgotten_at);
        nodes_.erase(order_.back());
        order_.pop_back();
    }
    order_.push_front(tenant);
    Node& node = nodes_[tenant];
    node.lru = order_.begin();
    return node;
}

bool TeamConfigCache::evict_one_config() {
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
        auto& node = nodes_.at(*it);
        if (node.config) {
            node.config.reset();
            return true;
        }
    }
    return false;
}

void TeamConfigCache::observe(const std::string& tenant, std::int64_t version) {
    if (!enabled()) return;
    std::lock_guard lock(mu_);
    Node& node = touch(tenant);
    node.observed = std::max(node.observed, version);
    if (!node.config) return;
    if (node.config->version < node.observed) node.config.reset();   // changed since it was read: read it again
    else if (node.config->version == version) node.confirmed_at = Clock::now();
}

std::shared_ptr<const TeamConfig> TeamConfigCache::find(const std::string& tenant) {
    if (!enabled()) return nullptr;
    std::lock_guard lock(mu_);
    auto it = nodes_.find(tenant);
    if (it == nodes_.end() || !it->second.config || Clock::now() - it->second.confirmed_at > window_) return nullptr;
    order_.splice(order_.begin(), order_, it->second.lru);
    return it->second.config;
}

std::shared_ptr<const TeamConfig> TeamConfigCache::put(const std::string& tenant, storage::TeamConfigSnapshot snapshot,
                                                       std::optional<RolloutSettings> settings,
                                                       std::optional<std::string> problem, Clock::time_point asked) {
    auto config = std::make_shared<TeamConfig>();
    config->version = snapshot.version;
    config->legacy_markers = snapshot.legacy_markers;
    config->settings = std::move(settings);
    config->problem = std::move(problem);
    std::size_t total = 0;
    // The webhook signing key is not kept: only webhook processing needs it, and it reads the store itself.
    if (snapshot.rollout) total += snapshot.rollout->secret.size();
    for (const auto& c : snapshot.connections) total += c.credential_key.size();

    std::lock_guard lock(mu_);
    if (arena_ && total > 0 && total <= arena_->capacity()) {   // what can never fit evicts nobody
        config->block = arena_->allocate(total);
        while (!config->block && evict_one_config()) config->block = arena_->allocate(total);
    }
    // Each secret goes to the arena block when there is one, else its guarded buffer moves into `own`.
    std::size_t used = 0;
    auto keep = [&](crypto::SecretBytes& secret) -> std::string_view {
        if (secret.empty()) return {};
        if (!config->block) {
            config->own.push_back(std::move(secret));
            return config->own.back().text();
        }
        auto* at = config->block->bytes().data() + used;
        std::memcpy(at, secret.data(), secret.size());
        used += secret.size();
        return {reinterpret_cast<const char*>(at), secret.size()};
    };
    if (snapshot.rollout) {
        config->secret = keep(snapshot.rollout->secret);
        config->unreadable = std::move(snapshot.rollout_unreadable);
    }
    for (auto& c : snapshot.connections)
        config->connections.push_back({std::move(c.info), c.shared_with_other_team, keep(c.credential_key),
                                       std::move(c.unreadable)});

    if (!enabled()) return config;
    Node& node = touch(tenant);
    // Kept only when no newer version was observed and the team not forgotten since the read began, and only when
    // its secrets are in the arena (a team whose secrets do not fit is read every time rather than pinning guarded
    // pages of its own). Either way its version counts as observed: an older entry is never confirmed again.
    const bool newest = config->version >= node.observed && asked > std::max(node.forgotten_at, evicted_forgotten_at_) &&
                        (!node.config || node.config->version <= config->version);
    node.observed = std::max(node.observed, config->version);
    if (node.config && node.config->version < node.observed) node.config.reset();
    if (newest && (config->block || total == 0)) {
        node.config = config;
        node.confirmed_at = Clock::now();
    }
    return config;
}

void TeamConfigCache::forget(const std::string& tenant) {
    if (!enabled()) return;
    std::lock_guard lock(mu_);
    Node& node = touch(tenant);
    node.config.reset();
    node.forgotten_at = Clock::now();
}

std::size_t TeamConfigCache::size() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& [tenant, node] : nodes_) n += node.config ? 1 : 0;
    return n;
}

}  // namespace rollout_mcp
