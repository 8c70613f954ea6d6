#include "idle_connections.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include <vector>

namespace rollout_mcp::rollout {

namespace {

// Connections are kept per io_context (I/O thread): one opened on another thread cannot serve this one, and sharing
// the per-key cap across threads would let each thread evict the others' connections.
IdleConnections::SetKey set_key(const std::string& key, const boost::asio::any_io_executor& executor) {
    return {key, &boost::asio::query(executor, boost::asio::execution::context)};
}

}  // namespace

std::unique_ptr<PoolConnection> IdleConnections::take(const std::string& key,
                                                      const boost::asio::any_io_executor& executor) {
    std::unique_ptr<PoolConnection> found;
    std::vector<std::unique_ptr<PoolConnection>> stale;   // closed after the lock is released
    std::lock_guard lock(mu_);
    auto set = sets_.find(set_key(key, executor));
    if (set == sets_.end()) return found;
    auto& idle = set->second;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = idle.end(); it != idle.begin() && !found;) {
        --it;
        // Whether the peer closed it or sent bytes nobody asked for is the caller's one MSG_PEEK (http_pool.cpp,
        // still_usable), made outside this lock: a system call per idle connection here held every team's pool.
        if (now - (*it)->idle_since >= expiry_ || (*it)->buffer.size() > 0) {
            stale.push_back(std::move(*it));
            it = idle.erase(it);
            --total_;
        } else {
            found = std::move(*it);
            idle.erase(it);
            --total_;
        }
    }
    if (idle.empty()) sets_.erase(set);
    return found;
}

void IdleConnections::put(const std::string& key, std::unique_ptr<PoolConnection> connection) {
    const auto now = std::chrono::steady_clock::now();
    connection->idle_since = now;
    connection->tcp().expires_never();
    std::vector<std::unique_ptr<PoolConnection>> doomed;   // closed after the lock is released
    std::lock_guard lock(mu_);
    // Expired connections of every set, at most once a second: every request returns a connection, and a
    // walk over all teams' sets on each would cost the hot path for nothing.
    if (now - last_sweep_ >= std::chrono::seconds(1)) {
        last_sweep_ = now;
        for (auto set = sets_.begin(); set != sets_.end();) {
            auto& idle = set->second;
            while (!idle.empty() && now - idle.front()->idle_since >= expiry_) {
                doomed.push_back(std::move(idle.front()));
                idle.pop_front();
                --total_;
            }
            set = idle.empty() ? sets_.erase(set) : std::next(set);
        }
    }
    if (per_key_ == 0 || total_cap_ == 0) return;   // nothing is kept: `connection` closes on return
    auto& idle = sets_[set_key(key, connection->tcp().get_executor())];
    if (idle.size() >= per_key_) {   // this set's oldest makes room
        doomed.push_back(std::move(idle.front()));
        idle.pop_front();
        --total_;
    }
    if (total_ >= total_cap_) {   // the oldest of all makes room: the connection just used is the likeliest reused
        auto oldest = sets_.end();
        for (auto set = sets_.begin(); set != sets_.end(); ++set)
            if (!set->second.empty() &&
                (oldest == sets_.end() || set->second.front()->idle_since < oldest->second.front()->idle_since))
                oldest = set;
        doomed.push_back(std::move(oldest->second.front()));
        oldest->second.pop_front();
        --total_;
        if (oldest->second.empty() && &oldest->second != &idle) sets_.erase(oldest);
    }
    idle.push_back(std::move(connection));
    ++total_;
}

void IdleConnections::close_all() {
    decltype(sets_) doomed;
    std::lock_guard lock(mu_);
    doomed.swap(sets_);
    total_ = 0;
}

std::size_t IdleConnections::size() const {
    std::lock_guard lock(mu_);
    return total_;
}

}  // namespace rollout_mcp::rollout
