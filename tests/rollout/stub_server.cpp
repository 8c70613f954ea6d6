#include "stub_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <sys/socket.h>

namespace rollout_mcp::rollout::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

boost::json::value StubRequest::json() const {
    if (body.empty()) return nullptr;
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    return ec ? boost::json::value(nullptr) : v;
}

struct StubServer::Impl {
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    asio::ssl::context ctx{asio::ssl::context::tls_server};
    std::mutex mu;
    std::vector<std::shared_ptr<tcp::socket>> sockets;
};

StubServer::StubServer(Handler handler, StubOptions options)
    : impl_(std::make_unique<Impl>()), handler_(std::move(handler)), options_(std::move(options)) {
    if (options_.tls) {
        impl_->ctx.use_certificate_chain(asio::buffer(options_.cert_pem));
        impl_->ctx.use_private_key(asio::buffer(options_.key_pem), asio::ssl::context::pem);
    }
    tcp::endpoint ep(asio::ip::make_address(options_.bind), 0);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    port_ = impl_->acceptor.local_endpoint().port();
    acceptor_thread_ = std::thread([this] { accept_loop(); });
}

StubServer::~StubServer() {
    stopping_ = true;
    ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    acceptor_thread_.join();
    {
        std::lock_guard lock(impl_->mu);
        for (auto& s : impl_->sockets) ::shutdown(s->native_handle(), SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
}

std::string StubServer::url() const {
    const std::string host = options_.bind.find(':') != std::string::npos ? "[" + options_.bind + "]" : options_.bind;
    return (options_.tls ? "https://" : "http://") + host + ":" + std::to_string(port_);
}

std::vector<StubRequest> StubServer::requests() const {
    std::lock_guard lock(mu_);
    return requests_;
}

void StubServer::accept_loop() {
    for (;;) {
        auto sock = std::make_shared<tcp::socket>(impl_->ioc);
        boost::system::error_code ec;
        impl_->acceptor.accept(*sock, ec);
        if (ec || stopping_) return;
        {
            std::lock_guard lock(impl_->mu);
            impl_->sockets.push_back(sock);
        }
        const int id = ++connections_;
        threads_.emplace_back([this, id, sock] { serve(id, sock); });
    }
}

namespace {

template <class Stream>
void serve_stream(Stream& stream, int id, const StubServer::Handler& handler, std::mutex& mu,
                  std::vector<StubRequest>& log, std::atomic<int>& in_flight, std::atomic<int>& peak,
                  std::atomic<bool>& stopping) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> req;
        boost::system::error_code ec;
        http::read(stream, buffer, req, ec);
        if (ec) return;
        StubRequest r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (const auto& f : req) {
            std::string name(f.name_string());
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
            r.headers[name] = std::string(f.value());
        }
        r.body = req.body();
        r.connection = id;
        {
            std::lock_guard lock(mu);
            log.push_back(r);
        }
        const int now = ++in_flight;
        int prev = peak.load();
        while (now > prev && !peak.compare_exchange_weak(prev, now)) {}
        StubReply reply = handler(r);
        auto until = std::chrono::steady_clock::now() + reply.delay;
        while (std::chrono::steady_clock::now() < until && !stopping)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        --in_flight;
        if (reply.hang) {
            while (!stopping) std::this_thread::sleep_for(std::chrono::milliseconds(5));
            return;
        }
        http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
        res.set(http::field::content_type, "application/json");
        for (const auto& [k, v] : reply.headers) res.set(k, v);
        res.body() = reply.body;
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        if (reply.trailing.empty()) {
            http::write(stream, res, ec);
        } else {
            // The reply and the bytes after it in one write, as a desynchronised peer sends them: they arrive
            // together, so the client sees them as leftovers of this exchange.
            std::ostringstream wire;
            wire << res;
            const std::string bytes = wire.str() + reply.trailing;
            asio::write(stream, asio::buffer(bytes), ec);
        }
        if (ec || !req.keep_alive()) return;
    }
}

}  // namespace

void StubServer::serve(int id, std::shared_ptr<void> p) {
    auto sock = std::static_pointer_cast<tcp::socket>(p);
    if (!options_.tls) {
        serve_stream(*sock, id, handler_, mu_, requests_, in_flight_, peak_, stopping_);
    } else {
        asio::ssl::stream<tcp::socket&> tls(*sock, impl_->ctx);
        boost::system::error_code ec;
        tls.handshake(asio::ssl::stream_base::server, ec);
        if (!ec) serve_stream(tls, id, handler_, mu_, requests_, in_flight_, peak_, stopping_);
    }
    boost::system::error_code ec;
    sock->shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace rollout_mcp::rollout::test
