// The HTTP/1.1 listener: one coroutine per connection on its own strand, limits and timeouts, routing
// to /healthz, /readyz and the MCP endpoint, SSE writing, and graceful shutdown on SIGINT/SIGTERM.
#pragma once

#include "server/app/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace rollout_mcp {

class McpEndpoint;
namespace mcp {
class SessionStore;
}

class HttpServer {
public:
    // Readiness of dependencies for /readyz: {"ready": bool, ...details}.
    using ReadinessProbe = std::function<boost::json::object()>;

    HttpServer(const Config& config, McpEndpoint& endpoint, mcp::SessionStore& sessions, ReadinessProbe readiness);
    ~HttpServer();

    // Binds and listens; throws std::runtime_error naming the address on failure. Returns the bound port.
    std::uint16_t listen();
    // Serves until a signal (or stop()) and the graceful shutdown finish; returns the process exit code.
    int run();
    // Starts a graceful shutdown from any thread.
    void stop();
    // Runs `task` on an I/O thread every `period` until shutdown (keep it short and non-blocking).
    void every(std::chrono::milliseconds period, std::function<void()> task);
    // The I/O threads' executor (background work such as the sync workers runs there).
    boost::asio::any_io_executor executor();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rollout_mcp
