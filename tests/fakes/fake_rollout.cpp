// FakeRollout: the listeners (plain HTTP and TLS) and the Beast coroutine per connection, as in
// server/http/http_connection.cpp: read a request, record it, apply latency and faults, answer from the Store
// (or, in scripted mode, from the test's script).
#include "fake_rollout.hpp"
#include "base/use_nothrow.hpp"

#include "fake_jwt.hpp"
#include "fake_store.hpp"
#include "fake_tls.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <cctype>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace rollout_mcp::fake {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

struct FakeRollout::Impl {
    Options options;
    Store store;
    std::unique_ptr<asio::io_context> ioc = std::make_unique<asio::io_context>(1);
    std::unique_ptr<asio::ssl::context> ssl;
    std::uint16_t port = 0, tls_port = 0;
    std::string ca_pem, crm_base;   // crm_base: the CRM URL webhook notifications name (set by start())
    std::thread thread;
    bool started = false;
    std::atomic<int> connections{0}, in_flight{0}, peak_in_flight{0};

    explicit Impl(Options o) : options(std::move(o)), store(options.client_secret) {}

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream, bool tls, int connection);
    asio::awaitable<Reply> answer(const Request& req);
    asio::awaitable<void> accept_loop(tcp::acceptor acceptor, bool tls);
};

namespace {

Request to_request(const http::request<http::string_body>& msg, bool tls) {
    Request r;
    r.method = std::string(msg.method_string());
    const std::string target(msg.target());
    r.target = target;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string::npos ? std::string{} : target.substr(q + 1);
    r.params = parse_query(r.query);
    for (const auto& field : msg) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(field.value());
    }
    r.body = msg.body();
    r.tls = tls;
    return r;
}

Reply fault_reply(const FaultRule& rule) {
    switch (rule.action) {
    case FaultRule::Action::rate_limit: {
        auto r = error_reply(429, "Too Many Requests");
        if (rule.retry_after_seconds) r.headers.emplace_back("Retry-After", std::to_string(*rule.retry_after_seconds));
        return r;
    }
    case FaultRule::Action::not_ready:
        return error_reply(409, kNotReadyMessage);
    case FaultRule::Action::auth_expired:
        return error_reply(401, "Unauthorized: JWT expired");
    default: {
        Reply r;
        r.status = rule.status;
        r.body = rule.body;
        r.headers.emplace_back("Content-Type", rule.content_type);
        return r;
    }
    }
}

Reply reply_of(ScriptedReply scripted) {
    Reply r;
    r.status = scripted.status;
    r.body = std::move(scripted.body);
    bool typed = false;
    for (auto& [name, value] : scripted.headers) {
        std::string lower = name;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        typed = typed || lower == "content-type";
        r.headers.emplace_back(name, std::move(value));
    }
    if (!typed) r.headers.emplace_back("Content-Type", "application/json");
    if (scripted.hang) r.delivery = Reply::Delivery::hang;
    r.trailing = std::move(scripted.trailing);
    return r;
}

// Counts a request from its arrival until its answer is chosen (peak_in_flight()).
class InFlight {
public:
    InFlight(std::atomic<int>& now, std::atomic<int>& peak) : now_(now) {
        const int mine = ++now_;
        int prev = peak.load();
        while (mine > prev && !peak.compare_exchange_weak(prev, mine)) {}
    }
    ~InFlight() { --now_; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

private:
    std::atomic<int>& now_;
};

}  // namespace

asio::awaitable<Reply> FakeRollout::Impl::answer(const Request& req) {
    if (req.path == "/_fake/deliver" && req.method == "POST") co_return co_await deliver_route(store, crm_base, req);
    if (req.path.rfind("/_fake/", 0) == 0) co_return store.handle(req);
    const InFlight counted(in_flight, peak_in_flight);
    const auto recorded = store.record(req);
    const auto seq = recorded.seq;
    auto decision = store.decide_faults(req);
    std::optional<ScriptedReply> scripted;
    if (options.script) scripted = options.script(recorded);
    const auto delay = options.latency + decision.latency + (scripted ? scripted->delay : std::chrono::milliseconds{0});
    if (delay.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor, delay);
        co_await timer.async_wait(use_nothrow);
    }
    // What the request does when it is handled: the script's answer, or the emulated Rollout's.
    auto handle = [&] { return scripted ? reply_of(*scripted) : store.handle(req); };
    Reply reply;
    using Action = FaultRule::Action;
    const auto action = decision.terminal ? std::optional<Action>(decision.terminal->action) : std::nullopt;
    if (!action) {
        reply = handle();
    } else if (*action == Action::close_after_reply) {
        reply = handle();
        reply.delivery = Reply::Delivery::close;
    } else if (*action == Action::reset_before_handle) {
        reply.delivery = Reply::Delivery::reset;   // nothing applied
    } else if (*action == Action::timeout_after_write || *action == Action::reset_after_write ||
               *action == Action::half_close_after_write || *action == Action::truncated_body) {
        reply = handle();                 // applied and stored first
        reply.delivery = *action == Action::timeout_after_write  ? Reply::Delivery::hang
                         : *action == Action::reset_after_write ? Reply::Delivery::reset
                         : *action == Action::half_close_after_write ? Reply::Delivery::half_close
                                                                      : Reply::Delivery::truncate;
    } else {
        reply = fault_reply(*decision.terminal);
    }
    store.set_status(seq, reply.answered() ? reply.status : 0);
    if (!options.quiet)
        std::cerr << "fake-rollout: " << req.method << ' ' << req.path << (req.query.empty() ? "" : "?") << req.query
                  << " -> " << (reply.answered() ? std::to_string(reply.status) : std::string("(no answer)"))
                  << std::endl;
    co_return reply;
}

template <class Stream>
asio::awaitable<void> FakeRollout::Impl::serve(Stream& stream, bool tls, int connection) {
    beast::flat_buffer buffer;
    auto& tcp_layer = beast::get_lowest_layer(stream);
    for (std::size_t served = 0;; ++served) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(16 * 1024 * 1024);
        tcp_layer.expires_after(std::chrono::seconds(120));
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        if (ec) {
            if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != beast::error::timeout &&
                ec != asio::error::operation_aborted && ec != asio::error::connection_reset &&
                ec != asio::ssl::error::stream_truncated) {
                http::response<http::string_body> bad{http::status::bad_request, 11};
                bad.set(http::field::content_type, "application/json");
                bad.body() = R"({"errorMessage":"malformed HTTP request"})";
                bad.keep_alive(false);
                bad.prepare_payload();
                co_await http::async_write(stream, bad, use_nothrow);
            }
            co_return;
        }
        tcp_layer.expires_never();
        const auto& msg = parser.get();
        Request req = to_request(msg, tls);
        req.reused_connection = served > 0;
        req.connection = connection;
        Reply reply = co_await answer(req);
        beast::error_code ignored;
        switch (reply.delivery) {
        case Reply::Delivery::hang: {
            // The write was applied; never answer. Hold the connection until the client gives up (or stop()).
            char sink[512];
            for (;;) {
                auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), use_nothrow);
                if (rec) co_return;
            }
        }
        case Reply::Delivery::reset:
            // SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
            tcp_layer.socket().set_option(asio::socket_base::linger(true, 0), ignored);
            tcp_layer.socket().close(ignored);
            co_return;
        case Reply::Delivery::half_close: {
            tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ignored);   // FIN, no answer
            char sink[512];
            for (;;) {
                auto [rec, rn] = co_await tcp_layer.socket().async_read_some(asio::buffer(sink), use_nothrow);
                if (rec) co_return;
            }
        }
        case Reply::Delivery::truncate: {
            // The full reply's header (its Content-Length included) and half its body, then close.
            http::response<http::string_body> res{static_cast<http::status>(reply.status), msg.version()};
            for (const auto& [name, value] : reply.headers) res.set(name, value);
            res.body() = reply.body.empty() ? std::string("{}") : std::move(reply.body);
            res.prepare_payload();
            http::response_serializer<http::string_body> sr(res);
            auto [hec, hn] = co_await http::async_write_header(stream, sr, use_nothrow);
            if (hec) co_return;
            const std::string& body = res.body();
            co_await asio::async_write(stream, asio::buffer(body.data(), body.size() / 2), use_nothrow);
            tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
            co_return;
        }
        case Reply::Delivery::normal:
        case Reply::Delivery::close:
            break;
        }
        http::response<http::string_body> res{static_cast<http::status>(reply.status), msg.version()};
        res.set(http::field::server, "fake-rollout");
        for (const auto& [name, value] : reply.headers) res.set(name, value);
        res.body() = std::move(reply.body);
        res.keep_alive(msg.keep_alive() && reply.delivery != Reply::Delivery::close);
        res.prepare_payload();
        tcp_layer.expires_after(std::chrono::seconds(30));
        if (!reply.trailing.empty()) {
            // The reply and the bytes after it in one write, as a desynchronised peer sends them: they arrive
            // together, so the client sees them as leftovers of this exchange.
            std::ostringstream wire;
            wire << res;
            const std::string bytes = wire.str() + reply.trailing;
            auto [tec, tn] = co_await asio::async_write(stream, asio::buffer(bytes), use_nothrow);
            if (tec || !res.keep_alive()) break;
            continue;
        }
        auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
        if (wec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> FakeRollout::Impl::accept_loop(tcp::acceptor acceptor, bool tls) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) continue;
        const int connection = ++connections;
        asio::co_spawn(
            acceptor.get_executor(),
            [this, tls, connection, s = std::move(socket)]() mutable -> asio::awaitable<void> {
                try {
                    if (!tls) {
                        beast::tcp_stream stream(std::move(s));
                        co_await serve(stream, false, connection);
                        co_return;
                    }
                    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(s)), *ssl);
                    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
                    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
                    if (hec) co_return;
                    co_await serve(stream, true, connection);
                } catch (const std::exception& e) {
                    std::cerr << "fake-rollout: connection failed: " << e.what() << std::endl;
                }
            },
            asio::detached);
    }
}

FakeRollout::FakeRollout(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

FakeRollout::~FakeRollout() { stop(); }

void FakeRollout::start() {
    auto& im = *impl_;
    if (im.started) throw std::logic_error("FakeRollout::start called twice");
    const auto address = asio::ip::make_address(im.options.bind);
    auto open = [&](std::uint16_t port) {
        tcp::acceptor acceptor(*im.ioc);
        tcp::endpoint ep(address, port);
        acceptor.open(ep.protocol());
        acceptor.set_option(asio::socket_base::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen();
        return acceptor;
    };
    tcp::acceptor plain = open(im.options.port);
    im.port = plain.local_endpoint().port();
    asio::co_spawn(*im.ioc, im.accept_loop(std::move(plain), false), asio::detached);
    if (im.options.tls) {
        std::string cert = im.options.tls_cert_pem, key = im.options.tls_key_pem;
        if (cert.empty() || key.empty()) {
            const auto& material = shared_test_tls();
            cert = material.cert_pem;
            key = material.key_pem;
            im.ca_pem = material.ca_pem;
        }
        im.ssl = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
        im.ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                            asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        im.ssl->use_certificate_chain(asio::buffer(cert));
        im.ssl->use_private_key(asio::buffer(key), asio::ssl::context::pem);
        tcp::acceptor secure = open(im.options.tls_port);
        im.tls_port = secure.local_endpoint().port();
        asio::co_spawn(*im.ioc, im.accept_loop(std::move(secure), true), asio::detached);
    }
    im.started = true;
    im.crm_base = crm_url();
    im.thread = std::thread([&im] { im.ioc->run(); });
}

void FakeRollout::stop() {
    auto& im = *impl_;
    if (!im.ioc) return;
    im.ioc->stop();
    if (im.thread.joinable()) im.thread.join();
    im.ioc.reset();   // destroys every pending coroutine: listeners and connections close
}

std::uint16_t FakeRollout::port() const { return impl_->port; }
std::uint16_t FakeRollout::tls_port() const { return impl_->tls_port; }
const std::string& FakeRollout::ca_pem() const { return impl_->ca_pem; }

std::string FakeRollout::url(bool tls) const {
    if (tls) return "https://localhost:" + std::to_string(impl_->tls_port);
    const auto& bind = impl_->options.bind;
    const std::string host = bind == "0.0.0.0" ? "127.0.0.1" : bind.find(':') != std::string::npos ? "[" + bind + "]" : bind;
    return "http://" + host + ":" + std::to_string(impl_->port);
}

int FakeRollout::connections() const { return impl_->connections.load(); }
int FakeRollout::peak_in_flight() const { return impl_->peak_in_flight.load(); }

std::vector<RecordedRequest> FakeRollout::requests() const { return impl_->store.requests(); }
void FakeRollout::clear_requests() { impl_->store.clear_requests(); }
json::object FakeRollout::state() const { return impl_->store.state(); }
void FakeRollout::reset() { impl_->store.reset(); }
json::object FakeRollout::add_credential(const std::string& app_key, const std::string& sub, const std::string& label,
                                         std::chrono::milliseconds not_ready_for, const std::string& id) {
    return impl_->store.add_credential(app_key, sub, label, not_ready_for, id);
}
std::uint64_t FakeRollout::add_fault(const FaultRule& rule) { return impl_->store.add_fault(rule); }
void FakeRollout::clear_faults() { impl_->store.clear_faults(); }
std::vector<json::object> FakeRollout::webhooks(const std::string& credential_id) const {
    return impl_->store.webhooks(credential_id);
}
std::vector<SentDelivery> FakeRollout::deliver(const std::string& credential_id, const WebhookEvent& event,
                                               Signing signing, SignedInput input, DigestForm form) {
    // One body for every subscription: the same eventId, as Rollout sends one event to each.
    const std::string body = webhook_body(event, crm_url());
    std::vector<SentDelivery> out;
    for (const auto& url : impl_->store.webhook_urls(credential_id, event.event))
        out.push_back(post_webhook(url, body, impl_->store.webhook_secret(), signing, input, form));
    return out;
}
void FakeRollout::set_webhook_secret(std::string secret) { impl_->store.set_webhook_secret(std::move(secret)); }
std::vector<json::object> FakeRollout::records(const std::string& credential_id, const std::string& kind) const {
    return impl_->store.records(credential_id, kind);
}
json::object FakeRollout::put_record(const std::string& credential_id, const std::string& kind, json::object record) {
    return impl_->store.put_record(credential_id, kind, std::move(record));
}
bool FakeRollout::remove_record(const std::string& credential_id, const std::string& kind, const std::string& id) {
    return impl_->store.remove_record(credential_id, kind, id);
}
std::string FakeRollout::mint_jwt(const std::string& sub, std::chrono::seconds ttl) const {
    return mint_hs512_jwt(impl_->options.client_secret, sub, ttl);
}

}  // namespace rollout_mcp::fake
