// Beast/Asio coroutine server. Each connection is one coroutine on its own strand that owns its stream;
// the server tracks connections only to wake idle ones at shutdown.
#include "server/http/http_server.hpp"

#include "base/loopback.hpp"
#include "base/use_nothrow.hpp"

#include "server/http/http_connection.hpp"
#include "server/http/tls_certificates.hpp"
#include "server/app/log.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/app/metrics.hpp"
#include "server/mcp/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>


namespace rollout_mcp {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
// /readyz also says when the served certificate lapses, so an operator sees it before clients do.
HttpServer::ReadinessProbe with_tls_status(HttpServer::ReadinessProbe probe, std::shared_ptr<TlsCertificates> tls) {
    if (!tls) return probe;
    return [probe = std::move(probe), tls = std::move(tls)] {
        auto state = probe();
        state["tls"] = tls->status();
        return state;
    };
}
}  // namespace

struct HttpServer::Impl {
    Impl(asio::any_io_executor io, const Config& c, McpEndpoint& e, mcp::SessionStore& s, ReadinessProbe r,
         std::shared_ptr<TlsCertificates> t, ConnectionExecutors executors)
        : config(c),
          tls(std::move(t)),
          io(std::move(io)),
          connection_executors(std::move(executors)),
          strand(asio::make_strand(this->io)),
          acceptor(strand),
          sweeper(strand),
          sessions(&s),
          shared{c, e, with_tls_status(std::move(r), tls), connections} {
        // Validated by the config loader: a value that does not parse here was never loaded.
        if (!c.server.public_url.empty())
            if (auto url = parse_public_url(c.server.public_url)) shared.public_url = std::move(*url);
        auto& connections_gauge = metrics::registry().gauge("rollout_mcp_connections", "Open HTTP connections");
        auto& sessions_gauge = metrics::registry().gauge("rollout_mcp_sessions", "Live MCP sessions");
        collect_hook = metrics::registry().on_collect([this, &connections_gauge, &sessions_gauge] {
            connections_gauge.with({}).set(static_cast<double>(connections.count()));
            sessions_gauge.with({}).set(static_cast<double>(sessions->size()));
        });
    }
    ~Impl() { metrics::registry().remove_collect(collect_hook); }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            // Named first: GCC 12 mis-evaluates a conditional with temporaries inside a co_await expression.
            const asio::any_io_executor where = connection_executors ? connection_executors() : io;
            const auto connection_strand = asio::make_strand(where);
            auto [ec, socket] = co_await acceptor.async_accept(connection_strand, use_nothrow);
            if (ec) {
                if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
                // EMFILE and friends: back off instead of spinning, keep serving existing connections.
                log::warning("accept failed", {{"error", ec.message()}});
                asio::steady_timer pause(io, std::chrono::milliseconds(50));
                co_await pause.async_wait(use_nothrow);
                continue;
            }
            if (connections.count() >= config.server.max_connections) {
                boost::system::error_code ignored;
                socket.close(ignored);
                continue;
            }
            auto executor = socket.get_executor();
            asio::co_spawn(executor, run_connection(shared, std::move(socket), tls ? tls->context() : nullptr),
                           asio::detached);
        }
    }

    asio::awaitable<void> sweep_loop() {
        const auto period = std::min<std::chrono::milliseconds>(std::chrono::seconds(5), config.mcp.session_idle_timeout / 2);
        for (;;) {
            sweeper.expires_after(std::max<std::chrono::milliseconds>(period, std::chrono::milliseconds(100)));
            auto [ec] = co_await sweeper.async_wait(use_nothrow);
            if (ec || shared.stopping) co_return;
            if (auto expired = sessions->sweep())
                log::debug("sessions expired", {{"count", expired}, {"live", sessions->size()}});
        }
    }

    asio::awaitable<void> shutdown() {
        log::info("shutting down", {{"connections", connections.count()}});
        shared.stopping = true;
        boost::system::error_code ignored;
        acceptor.close(ignored);
        sweeper.cancel();
        shared.endpoint.begin_shutdown();
        sessions->end_standalone_streams();
        const auto deadline = std::chrono::steady_clock::now() + config.server.shutdown_grace;
        asio::steady_timer tick(io);
        // In-flight requests finish; idle keep-alive connections are woken and close.
        while ((connections.count() > 0 || shared.endpoint.running_tools() > 0) &&
               std::chrono::steady_clock::now() < deadline) {
            connections.wake_idle();
            // A request cancelled while we stop gets its stream marked cancelled a moment later: end it too.
            sessions->end_standalone_streams();
            tick.expires_after(std::chrono::milliseconds(20));
            co_await tick.async_wait(use_nothrow);
        }
        sessions->close_all();
        connections.cancel_all();
        const auto hard_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (connections.count() > 0 && std::chrono::steady_clock::now() < hard_deadline) {
            tick.expires_after(std::chrono::milliseconds(10));
            co_await tick.async_wait(use_nothrow);
        }
        log::info("stopped", {{"connections_left", connections.count()}});
    }

    const Config& config;
    std::shared_ptr<TlsCertificates> tls;
    asio::any_io_executor io;
    const ConnectionExecutors connection_executors;
    // The accept loop, the session sweep and the shutdown run here: the acceptor and the sweep timer are
    // touched by one of them at a time.
    asio::strand<asio::any_io_executor> strand;
    tcp::acceptor acceptor;
    asio::steady_timer sweeper;
    ConnectionTracker connections;
    mcp::SessionStore* sessions = nullptr;
    ServerShared shared;
    std::size_t collect_hook = 0;
};

HttpServer::HttpServer(asio::any_io_executor io, const Config& config, McpEndpoint& endpoint,
                       mcp::SessionStore& sessions, ReadinessProbe readiness, std::shared_ptr<TlsCertificates> tls,
                       ConnectionExecutors connection_executors)
    : impl_(std::make_unique<Impl>(std::move(io), config, endpoint, sessions, std::move(readiness), std::move(tls),
                                   std::move(connection_executors))) {}

HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::listen() {
    const auto& s = impl_->config.server;
    boost::system::error_code ec;
    // Every spelling the loopback predicate accepts binds: "[::1]" is ::1, a loopback name is 127.0.0.1.
    std::string literal = s.bind;
    if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']' && literal.find(':') != std::string::npos)
        literal = literal.substr(1, literal.size() - 2);
    auto address = asio::ip::make_address(literal, ec);
    if (ec && is_loopback_host(s.bind)) {
        ec.clear();
        address = asio::ip::address_v4::loopback();
    }
    if (ec) throw std::runtime_error("server.bind: \"" + s.bind + "\" is not an IP address");
    tcp::endpoint ep(address, s.port);
    auto& acceptor = impl_->acceptor;
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen on " + s.bind + ":" + std::to_string(s.port) + ": " + ec.message());
    return acceptor.local_endpoint().port();
}

void HttpServer::set_hook_receiver(HookReceiver& receiver) { impl_->shared.hooks = &receiver; }

void HttpServer::start() {
    asio::co_spawn(impl_->strand, impl_->accept_loop(), asio::detached);
    asio::co_spawn(impl_->strand, impl_->sweep_loop(), asio::detached);
}

asio::awaitable<void> HttpServer::shutdown() {
    // On the strand that owns the acceptor and the sweep timer (a coroutine resumes on its own executor, so
    // the work is spawned there and awaited).
    co_await asio::co_spawn(impl_->strand, impl_->shutdown(), asio::use_awaitable);
}

}  // namespace rollout_mcp
