// The HTTP/1.1 listener: one coroutine per connection on its own strand, limits and timeouts, routing
// to /healthz, /readyz and the MCP endpoint, SSE writing, and a graceful shutdown that ends every
// coroutine it started. It runs on an executor its owner gives it; the owner (main, or a test) owns the
// io_context and its threads (docs/ARCHITECTURE.md, "Lifetime and shutdown").
#pragma once

#include "server/app/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace rollout_mcp {

class McpEndpoint;
class HookReceiver;
class TlsCertificates;
namespace mcp {
class SessionStore;
}

class HttpServer {
public:
    // Readiness of dependencies for /readyz: {"ready": bool, ...details}.
    using ReadinessProbe = std::function<boost::json::object()>;

    // Where each accepted connection runs (a strand of it is taken); main passes its I/O threads in turn
    // (server/app/io_threads.hpp). Empty: on `io`.
    using ConnectionExecutors = std::function<boost::asio::any_io_executor()>;

    // `tls`: serve HTTPS with these certificates ([server] tls_cert_file); null: plain HTTP.
    HttpServer(boost::asio::any_io_executor io, const Config& config, McpEndpoint& endpoint,
               mcp::SessionStore& sessions, ReadinessProbe readiness, std::shared_ptr<TlsCertificates> tls = nullptr,
               ConnectionExecutors connection_executors = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and listens; throws std::runtime_error naming the address on failure. Returns the bound port.
    std::uint16_t listen();
    // Serves Rollout's webhooks at `<public_url path>/hooks/rollout/<route>` with `receiver` (which must
    // outlive the server); call before start(). Without it, or without [server] public_url, that path is 404.
    void set_hook_receiver(HookReceiver& receiver);
    // Starts accepting connections and expiring idle sessions (after listen()).
    void start();
    // The graceful shutdown: stops accepting, lets requests in flight finish for [server] shutdown_grace,
    // then closes sessions and cancels what is left. Completes when no connection coroutine is left (or a
    // second after the grace). Call once.
    boost::asio::awaitable<void> shutdown();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rollout_mcp
