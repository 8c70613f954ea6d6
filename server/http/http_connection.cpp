// The per-connection coroutine: (over TLS, the handshake first) read one request within limits and
// deadlines, route it, write the reply (a full response or an SSE stream), repeat while keep-alive allows.
// The same code serves plain TCP and TLS streams: Connection is a template over the stream.
#include "server/http/http_connection.hpp"
#include "base/read_buffer.hpp"
#include "base/use_nothrow.hpp"

#include "server/mcp/http_message.hpp"
#include "server/http/http_request_view.hpp"
#include "server/http/http_routes.hpp"
#include "server/app/log.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/app/metrics.hpp"
#include "server/app/observability.hpp"
#include "server/mcp/sse.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/serialize.hpp>

#include <optional>
#include <utility>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

void ConnectionTracker::add(const std::shared_ptr<Handle>& handle) {
    std::lock_guard lock(mu_);
    handles_.emplace(handle.get(), handle);
    ++count_;
}

void ConnectionTracker::remove(const Handle* handle) {
    std::lock_guard lock(mu_);
    handles_.erase(handle);
    --count_;
}

void ConnectionTracker::for_each(bool only_idle) {
    std::vector<std::shared_ptr<Handle>> live;
    {
        std::lock_guard lock(mu_);
        for (auto& [p, weak] : handles_)
            if (auto h = weak.lock()) live.push_back(std::move(h));
    }
    for (auto& h : live) {
        if (only_idle && !h->idle.load()) continue;
        asio::post(h->executor, [h, only_idle] {
            if (!only_idle || h->idle.load()) h->cancel();
        });
    }
}

void ConnectionTracker::wake_idle() { for_each(true); }
void ConnectionTracker::cancel_all() { for_each(false); }

namespace {

using Request = http::request<http::string_body>;

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

// Read-buffer room for a request body: kept between requests (and for a chunked body), and at most. Reserved before
// any body byte arrives, so an unauthenticated header announcing a large body gets 16 KiB, not what it announced
// (a tool call's arguments are a few KiB; larger bodies are read 16 KiB at a time).
constexpr std::size_t kKeptReadBuffer = 4 * 1024;
constexpr std::size_t kMaxBodyRead = 16 * 1024;

template <class Stream>
class Connection {
public:
    // `deadline_set`: the caller already set the first request's deadline (TLS: at accept).
    Connection(ServerShared& shared, Stream& stream, ConnectionTracker::Handle& handle, bool deadline_set = false)
        : shared_(shared), cfg_(shared.config.server), stream_(stream), handle_(handle),
          first_deadline_set_(deadline_set) {}

    asio::awaitable<void> serve() {
        beast::flat_buffer buffer;
        for (;;) {
            BeastRequestParser parser;
            configure_request_parser(parser, cfg_);
            handle_.idle = true;
            if (shared_.stopping) co_return;
            // Over TLS the first request shares the deadline the handshake began: one request_timeout
            // from accept to a whole first request, so a slow handshake cannot buy a second period.
            if (!std::exchange(first_deadline_set_, false)) tcp().expires_after(cfg_.request_timeout);
            auto [ec, n] = co_await http::async_read_header(stream_, buffer, parser, use_nothrow);
            handle_.idle = false;
            if (ec) co_return co_await reject_read(ec);
            if (header_over_limit(n, cfg_)) co_return co_await reject_read(http::error::header_limit);
            if (auto problem = framing_problem(parser)) {
                auto reply = transport_error(400, -32000, "Bad Request: " + *problem);
                co_await write_reply(reply, parser.get().version(), false);
                co_return;
            }
            if (auto refused = limit_hook_body(shared_, parser)) {
                co_await write_reply(*refused, parser.get().version(), false);
                co_return;
            }
            if (beast::iequals(parser.get()[http::field::expect], "100-continue") && !parser.is_done()) {
                http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
                auto [wec, wn] = co_await http::async_write(stream_, cont, use_nothrow);
                if (wec) co_return;
            }
            if (!parser.is_done()) {
                // Room for the announced body (already under max_body_bytes): a tool call's arguments in one read,
                // not in pieces of 512 bytes (base/read_buffer.hpp).
                reserve_for_body(buffer, parser.content_length(), kKeptReadBuffer, kMaxBodyRead);
                auto [bec, bn] = co_await http::async_read(stream_, buffer, parser, use_nothrow);
                if (bec) co_return co_await reject_read(bec);
            }
            trim_read_buffer(buffer, kKeptReadBuffer);   // an idle keep-alive connection holds 4 KiB
            tcp().expires_never();
            const Request& req = parser.get();
            const auto started = std::chrono::steady_clock::now();
            const auto request_id = observe::request_id(sv(req["X-Request-Id"]));
            HttpReply reply = co_await route(shared_, req);
            reply.headers.emplace_back("X-Request-Id", request_id);
            account(req, reply, request_id, started);
            bool keep = req.keep_alive() && !reply.close_connection && !shared_.stopping;
            if (reply.sse) keep = co_await write_sse(req, reply, keep);
            else keep = co_await write_reply(reply, req.version(), keep);
            if (!keep) break;
        }
    }

private:
    beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

    // Counts the request and logs it: 5xx as warnings, 4xx as info, the rest at debug level.
    void account(const Request& req, const HttpReply& reply, const std::string& request_id,
                 std::chrono::steady_clock::time_point started) {
        auto target = sv(req.target());
        auto path = target.substr(0, target.find('?'));
        const char* known[] = {"/healthz", "/readyz", "/metrics"};
        std::string path_label = path == shared_.config.server.mcp_path ? "mcp" : "other";
        if (shared_.public_url && hook_route_of(path, shared_.public_url->path_prefix)) path_label = "hooks";
        for (const char* k : known)
            if (path == k) path_label = k + 1;
        const auto method = req.method();
        std::string method_label = method == http::verb::get      ? "GET"
                                   : method == http::verb::post   ? "POST"
                                   : method == http::verb::delete_ ? "DELETE"
                                                                  : "other";
        observe::http_requests().with({method_label, path_label, std::to_string(reply.status)}).inc();
        const auto level = reply.status >= 500 ? log::Level::warning
                           : reply.status >= 400 ? log::Level::info
                                                 : log::Level::debug;
        if (!log::enabled(level)) return;
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
        log::write(level, "http request", {{"request_id", request_id}, {"method", method_label}, {"path", path_label},
                                           {"status", reply.status}, {"duration_us", us},
                                           {"session", sv(req["Mcp-Session-Id"])}, {"sse", reply.sse.has_value()}});
    }

    // A request that could not be read: answer what can be answered, then close.
    asio::awaitable<void> reject_read(beast::error_code ec) {
        // (stream_truncated: a TLS client closed TCP without close_notify, which is a close, not a bad request)
        if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
            ec == asio::ssl::error::stream_truncated ||
            ec == asio::error::eof || ec == asio::error::connection_reset)
            co_return;
        HttpReply reply;
        if (ec == http::error::body_limit)
            reply = transport_error(413, -32000, "Payload Too Large: the body exceeds " +
                                                     std::to_string(cfg_.max_body_bytes) + " bytes");
        else if (ec == http::error::header_limit)
            reply = transport_error(431, -32000, "Request Header Fields Too Large");
        else
            reply = transport_error(400, -32000, "Bad Request: malformed HTTP request (" + ec.message() + ")");
        co_await write_reply(reply, 11, false);
    }

    void set_common(http::response_header<>& res, const HttpReply& reply) {
        res.set(http::field::server, "rollout-mcp");
        if (!reply.content_type.empty()) res.set(http::field::content_type, reply.content_type);
        for (const auto& [name, value] : reply.headers) res.set(name, value);
    }

    asio::awaitable<bool> write_reply(HttpReply& reply, unsigned version, bool keep) {
        http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
        set_common(res, reply);
        res.body() = std::move(reply.body);
        res.keep_alive(keep);
        res.prepare_payload();
        tcp().expires_after(cfg_.write_timeout);
        auto [ec, n] = co_await http::async_write(stream_, res, use_nothrow);
        tcp().expires_never();
        co_return !ec && keep;
    }

    asio::awaitable<bool> write_bytes(const std::string& bytes, bool chunked) {
        tcp().expires_after(cfg_.write_timeout);
        boost::system::error_code ec;
        if (chunked) std::tie(ec, std::ignore) = co_await asio::async_write(stream_, http::make_chunk(asio::buffer(bytes)), use_nothrow);
        else std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(bytes), use_nothrow);
        tcp().expires_never();
        co_return !ec;
    }

    // Writes an attached event stream until it ends (response delivered, close requested, shutdown) or the
    // client goes away; detaches it either way so the client can resume with Last-Event-ID.
    asio::awaitable<bool> write_sse(const Request& req, HttpReply& reply, bool keep) {
        auto& sse = *reply.sse;
        auto stream = sse.stream;
        const bool chunked = req.version() >= 11;
        if (!chunked) keep = false;
        http::response<http::empty_body> res{http::status::ok, req.version()};
        reply.content_type = "text/event-stream";
        set_common(res, reply);
        res.set(http::field::cache_control, "no-cache");
        res.set("X-Accel-Buffering", "no");
        res.keep_alive(keep);
        if (chunked) res.chunked(true);
        http::response_serializer<http::empty_body> serializer{res};
        tcp().expires_after(cfg_.write_timeout);
        auto [hec, hn] = co_await http::async_write_header(stream_, serializer, use_nothrow);
        tcp().expires_never();
        if (hec) {
            stream->detach(sse.generation);
            co_return false;
        }

        auto& open_streams = observe::sse_streams().with({});
        open_streams.add(1);
        struct Closed {
            metrics::Gauge& g;
            ~Closed() { g.add(-1); }
        } closed{open_streams};
        auto executor = co_await asio::this_coro::executor;
        auto timer = std::make_shared<asio::steady_timer>(executor);
        auto pending = std::make_shared<std::atomic<bool>>(false);
        stream->set_waker(
            [executor, timer, pending] {
                pending->store(true);
                asio::post(executor, [timer] { timer->cancel(); });
            },
            sse.generation);
        const auto keepalive = shared_.config.mcp.sse_keepalive;
        std::string out;
        std::uint64_t cursor = sse.after_seq;
        if (sse.prime) sse::append_priming_event(out, {sse.epoch, stream->number(), cursor}, sse.retry_ms);
        bool ok = true;
        for (;;) {
            auto batch = stream->take(cursor, sse.generation);
            for (const auto& [seq, payload] : batch.events)
                sse::append_message_event(out, {sse.epoch, stream->number(), seq}, *payload);
            if (!out.empty()) {
                ok = co_await write_bytes(out, chunked);
                out.clear();
                if (!ok) break;
            }
            if (batch.end_response) break;
            if (pending->exchange(false)) continue;
            timer->expires_after(keepalive);
            auto [tec] = co_await timer->async_wait(use_nothrow);
            if (!tec && !pending->load()) {
                ok = co_await write_bytes(std::string(sse::keepalive_comment), chunked);
                if (!ok) break;
            }
        }
        stream->detach(sse.generation);
        if (ok && chunked) {
            tcp().expires_after(cfg_.write_timeout);
            auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), use_nothrow);
            tcp().expires_never();
            ok = !ec;
        }
        co_return ok && keep;
    }

    ServerShared& shared_;
    const ServerSettings& cfg_;
    Stream& stream_;
    ConnectionTracker::Handle& handle_;
    bool first_deadline_set_ = false;
};

// A client that speaks plain HTTP to the TLS port gets one plain answer saying so, then the connection closes.
asio::awaitable<void> refuse_plaintext(beast::tcp_stream& stream, const ServerSettings& cfg) {
    http::response<http::string_body> res{http::status::bad_request, 11};
    res.set(http::field::server, "rollout-mcp");
    res.set(http::field::content_type, "application/json");
    res.body() = json::serialize(json::object{
        {"jsonrpc", "2.0"},
        {"error", {{"code", -32000}, {"message", "Bad Request: this port speaks HTTPS; use https://"}}}});
    res.keep_alive(false);
    res.prepare_payload();
    stream.expires_after(cfg.write_timeout);
    co_await http::async_write(stream, res, use_nothrow);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

// TLS: the client's first bytes must be a TLS handshake, and the whole handshake must finish within
// request_timeout (a stalled one is cut off like a slow request). Then the connection is served as over
// TCP, and ends with a TLS close_notify.
asio::awaitable<void> serve_tls(ServerShared& shared, beast::ssl_stream<beast::tcp_stream>& stream,
                                ConnectionTracker::Handle& handle) {
    const auto& cfg = shared.config.server;
    auto& tcp = stream.next_layer();
    static auto& failures = metrics::registry().counter(
        "rollout_mcp_tls_handshake_failures_total", "TLS connections that ended before their handshake completed",
        {"reason"});
    // Unauthenticated work is capped: a connection over the cap is closed before it costs a TLS state.
    struct Handshaking {
        std::atomic<std::size_t>& n;
        bool counted = true;
        void done() { if (std::exchange(counted, false)) --n; }
        ~Handshaking() { done(); }
    } handshaking{shared.handshaking};
    if (++shared.handshaking > cfg.max_tls_handshakes) {
        failures.with({"over_cap"}).inc();
        co_return;
    }
    tcp.expires_after(cfg.request_timeout);
    beast::flat_buffer buffer;
    auto [dec, is_tls] = co_await beast::async_detect_ssl(tcp, buffer, use_nothrow);
    if (dec) {
        failures.with({dec == beast::error::timeout ? "timeout" : "closed"}).inc();
        co_return;
    }
    if (!is_tls) {
        failures.with({"plaintext"}).inc();
        co_return co_await refuse_plaintext(tcp, cfg);
    }
    auto [hec, used] = co_await stream.async_handshake(asio::ssl::stream_base::server, buffer.data(), use_nothrow);
    if (hec) {
        failures.with({hec == beast::error::timeout ? "timeout" : "handshake"}).inc();
        log::debug("TLS handshake failed", {{"error", hec.message()}});
        co_return;
    }
    handshaking.done();
    Connection<beast::ssl_stream<beast::tcp_stream>> connection(shared, stream, handle, true);
    co_await connection.serve();
    tcp.expires_after(std::chrono::seconds(2));   // a peer that never answers close_notify does not hold us
    co_await stream.async_shutdown(use_nothrow);
}

}  // namespace

asio::awaitable<void> run_connection(ServerShared& shared, asio::ip::tcp::socket socket,
                                     std::shared_ptr<asio::ssl::context> tls) {
    // One stream object for the connection's life (TLS or not), so the tracker's cancel closure stays valid.
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    if (tls) secure.emplace(std::move(socket), *tls);
    else plain.emplace(std::move(socket));
    beast::tcp_stream& tcp = secure ? secure->next_layer() : *plain;
    auto handle = std::make_shared<ConnectionTracker::Handle>();
    handle->executor = tcp.get_executor();
    handle->cancel = [&tcp] {
        beast::error_code ignored;
        tcp.socket().cancel(ignored);
        tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    };
    shared.connections.add(handle);
    try {
        if (secure) {
            co_await serve_tls(shared, *secure, *handle);
        } else {
            Connection<beast::tcp_stream> connection(shared, *plain, *handle);
            co_await connection.serve();
            beast::error_code ignored;
            plain->socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        }
    } catch (const std::exception& e) {
        log::error("connection failed", {{"error", e.what()}});
    }
    // The cancel closure refers to the stream: clear it on this strand before the stream goes away.
    handle->cancel = [] {};
    shared.connections.remove(handle.get());
}

}  // namespace rollout_mcp
