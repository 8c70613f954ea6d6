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
    : max_teams_(max_teams), window_(confirm_window),
      arena_(max_teams > 0 ? SecretArena::create(max_teams * kArenaBytesPerTeam) : nullptr) {}

TeamConfigCache::Node& TeamConfigCache::touch(const std::string& tenant) {
    auto it = nodes_.find(tenant);
    if (it != nodes_.end()) {
        order_.splice(order_.begin(), order_, it->second.lru);
        return it->second;
    }
    while (nodes_.size() >= max_teams_ && !order_.empty()) {
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
    if (node.config->version < version) node.config.reset();   // changed since it was read: read it again
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
                                                       std::optional<std::string> problem) {
    auto config = std::make_shared<TeamConfig>();
    config->version = snapshot.version;
    config->settings = std::move(settings);
    config->problem = std::move(problem);
    std::size_t total = 0;
    if (snapshot.rollout) total += snapshot.rollout->secret.size() + snapshot.rollout->webhook_secret.size();
    for (const auto& c : snapshot.connections) total += c.credential_key.size();

    std::lock_guard lock(mu_);
    if (arena_ && total > 0) {
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
        config->webhook_secret = keep(snapshot.rollout->webhook_secret);
    }
    for (auto& c : snapshot.connections)
        config->connections.push_back({std::move(c.info), c.shared_with_other_team, keep(c.credential_key)});

    if (!enabled()) return config;
    Node& node = touch(tenant);
    // Kept only when no newer version was observed meanwhile, and only when its secrets are in the arena (a
    // team whose secrets do not fit is read every time rather than pinning guarded pages of its own).
    const bool newest = config->version >= node.observed && (!node.config || node.config->version <= config->version);
    if (newest && (config->block || total == 0)) {
        node.config = config;
        node.confirmed_at = Clock::now();
    }
    return config;
}

void TeamConfigCache::forget(const std::string& tenant) {
    std::lock_guard lock(mu_);
    auto it = nodes_.find(tenant);
    if (it != nodes_.end()) it->second.config.reset();
}

std::size_t TeamConfigCache::size() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& [tenant, node] : nodes_) n += node.config ? 1 : 0;
    return n;
}

}  // namespace rollout_mcp
