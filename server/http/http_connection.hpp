// One HTTP connection's coroutine (read, route, write, SSE) and the tracker used to wake connections
// at shutdown. Internal to http_server.cpp; keeps Beast out of every other header.
#pragma once

#include "server/app/config.hpp"
#include "server/app/public_url.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace rollout_mcp {

class McpEndpoint;
class HookReceiver;

// Live connections: a count for the cap, and handles to cancel idle reads during shutdown.
class ConnectionTracker {
public:
    struct Handle {
        boost::asio::any_io_executor executor;
        std::function<void()> cancel;          // runs on `executor`
        std::atomic<bool> idle{true};          // waiting for the next request
    };
    std::size_t count() const { return count_.load(); }
    void add(const std::shared_ptr<Handle>& handle);
    void remove(const Handle* handle);
    void wake_idle();      // cancels connections waiting for a request
    void cancel_all();     // cancels every connection's pending I/O

private:
    void for_each(bool only_idle);
    std::atomic<std::size_t> count_{0};
    std::mutex mu_;
    std::unordered_map<const Handle*, std::weak_ptr<Handle>> handles_;
};

struct ServerShared {
    const Config& config;
    McpEndpoint& endpoint;
    std::function<boost::json::object()> readiness;
    ConnectionTracker& connections;
    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> handshaking{0};   // TLS connections not past their handshake yet
    // Rollout's webhooks: served only when [server] public_url is set and a receiver was given.
    std::optional<PublicUrl> public_url{};
    HookReceiver* hooks = nullptr;
};


// Serves one accepted connection until it ends; over TLS when `tls` is set (the context must outlive it).
boost::asio::awaitable<void> run_connection(ServerShared& shared, boost::asio::ip::tcp::socket socket,
                                            std::shared_ptr<boost::asio::ssl::context> tls);

}  // namespace rollout_mcp
