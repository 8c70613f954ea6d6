// The HttpPool's idle keep-alive connections, one set per key (team, trust and origin: connections are never
// shared across them) and io_context (I/O thread: a connection serves only the thread that opened it, and each
// thread's connections count against the per-set cap apart). A connection is taken most recently used first;
// expired ones, and ones holding unread bytes, are closed instead (the caller then checks the socket itself:
// HttpPool's still_usable). Returning one also closes every expired idle connection of every set (at most once a
// second), so teams that went quiet keep nothing open for long; at most `per_key` are kept per set and `total` in
// all, the oldest making room for the one just returned. Thread-safe.
#pragma once

#include "pool_connection.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <utility>
#include <memory>
#include <mutex>
#include <string>

namespace rollout_mcp::rollout {

class IdleConnections {
public:
    using SetKey = std::pair<std::string, const void*>;   // the caller's key and the io_context

    IdleConnections(std::size_t per_key, std::size_t total, std::chrono::seconds expiry)
        : per_key_(per_key), total_cap_(total), expiry_(expiry) {}

    std::unique_ptr<PoolConnection> take(const std::string& key, const boost::asio::any_io_executor& executor);
    void put(const std::string& key, std::unique_ptr<PoolConnection> connection);
    void close_all();   // shutdown, before the io_context the connections were opened on goes
    std::size_t size() const;

private:
    const std::size_t per_key_;
    const std::size_t total_cap_;
    const std::chrono::seconds expiry_;
    mutable std::mutex mu_;
    std::map<SetKey, std::deque<std::unique_ptr<PoolConnection>>> sets_;   // oldest first; no empty sets
    std::size_t total_ = 0;
    std::chrono::steady_clock::time_point last_sweep_{};
};

}  // namespace rollout_mcp::rollout
