// HttpPool: fair per-origin request slots (host_slots) + idle keep-alive connections per (partition,
// origin); one coroutine per request that validates it, checks where it goes, connects (or reuses),
// writes, reads under one deadline, and classifies what went wrong.
#include "http_pool.hpp"
#include "base/ascii.hpp"
#include "base/read_buffer.hpp"
#include "base/use_nothrow.hpp"
#include "host_slots.hpp"
#include "idle_connections.hpp"

#include <charconv>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <optional>

#include <sys/socket.h>

namespace rollout_mcp::rollout {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

using Connection = PoolConnection;

// Idle connections are never shared between partitions (teams), nor between trusted (operator-configured)
// and untrusted requests: a connection carries whatever desync or destination its opener caused.
std::string pool_key(const HttpRequest& request, const Endpoint& ep) {
    return std::to_string(request.partition.size()) + ":" + request.partition +
           (request.trusted_destination ? " trusted " : " ") + ep.key();
}

enum class Phase { writing, awaiting_reply, reading_reply };

// Read-buffer room: for a body of unknown length (chunked), and at most for any body: Beast reads at most 64 KiB at a
// time (http::read_some's read_size), so more would never be used. A pooled connection keeps the former between
// requests (256 idle connections: 4 MiB).
constexpr std::size_t kUnknownLengthRead = 16 * 1024;
constexpr std::size_t kMaxBodyRead = 64 * 1024;

struct Exchange {
    boost::system::error_code ec;
    Phase phase = Phase::writing;
    std::size_t bytes_written = 0;   // of the request, when the write failed
    HttpResponse response;
    bool reusable = false;
};

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

Error transport_error(const Endpoint& ep, std::string what, const boost::system::error_code& ec, bool uncertain) {
    Error e{ErrorKind::transient, 0, what + " " + ep.key() + ": " + ec.message()};
    if (ec == beast::error::timeout) e.message = what + " " + ep.key() + ": timed out";
    e.uncertain = uncertain;
    return e;
}

}  // namespace

struct HttpPool::Impl {
    explicit Impl(const HttpOptions& o)
        : ctx(ssl::context::tls_client),
          idle(o.max_idle_per_host, o.max_idle_total, o.idle_expiry),
          slots(std::make_shared<SlotScheduler>(SlotLimits{std::max<std::size_t>(1, o.max_concurrent_per_host),
                                                           o.per_team_host_share,
                                                           std::max<std::size_t>(1, o.max_queued_per_host)})) {
        ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        ctx.set_verify_mode(ssl::verify_peer);
        boost::system::error_code ec;
        if (o.use_system_ca) ctx.set_default_verify_paths(ec);
        if (!o.extra_ca_pem.empty()) {
            ctx.add_certificate_authority(asio::buffer(o.extra_ca_pem), ec);
            if (ec) ca_error = "the extra CA PEM could not be loaded: " + ec.message();
        }
    }

    ssl::context ctx;
    IdleConnections idle;
    std::shared_ptr<SlotScheduler> slots;
    std::string ca_error;
    mutable std::mutex mu;
    PoolStats stats;
};

std::shared_ptr<HttpPool> HttpPool::create(HttpOptions options) {
    return std::shared_ptr<HttpPool>(new HttpPool(std::move(options)));
}

HttpPool::HttpPool(HttpOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {
    options_.max_concurrent_per_host = std::max<std::size_t>(1, options_.max_concurrent_per_host);
    // Compared with Endpoint::key(): spelled the same way ("HTTP://LocalHost:9090/" -> "http://localhost:9090").
    for (auto& origin : options_.allowed_origins)
        if (auto normalized = origin_of(origin)) origin = std::move(normalized).value();
}

HttpPool::~HttpPool() = default;

void HttpPool::close_idle() {
    impl_->slots->shutdown();
    impl_->idle.close_all();
}

PoolStats HttpPool::stats() const {
    std::lock_guard lock(impl_->mu);
    PoolStats s = impl_->stats;
    s.in_flight_peak = impl_->slots->in_flight_peak();
    s.partition_in_flight_peak = impl_->slots->partition_in_flight_peak();
    s.idle = impl_->idle.size();
    return s;
}

namespace {

asio::awaitable<Result<std::unique_ptr<Connection>>> connect(HttpPool::Impl& impl, const Endpoint& ep,
                                                             const std::vector<tcp::endpoint>& addresses,
                                                             Clock::time_point deadline) {
    auto ex = co_await asio::this_coro::executor;
    auto c = std::make_unique<Connection>();
    if (ep.tls) c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, impl.ctx);
    else c->plain = std::make_unique<beast::tcp_stream>(ex);
    c->tcp().expires_at(deadline);
    // Exactly the addresses that were checked: no second resolution a DNS answer could change.
    auto [cec, endpoint] = co_await c->tcp().async_connect(addresses, use_nothrow);
    if (cec) co_return transport_error(ep, "cannot connect to", cec, false);
    c->tcp().socket().set_option(tcp::no_delay(true));
    if (ep.tls) {
        SSL* s = c->tls->native_handle();
        if (is_ip_literal(ep.host)) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), ep.host.c_str());
        } else {
            SSL_set_tlsext_host_name(s, ep.host.c_str());  // SNI
            SSL_set1_host(s, ep.host.c_str());             // certificate must name this host
        }
        auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, use_nothrow);
        if (hec) {
            const long vr = SSL_get_verify_result(s);
            if (vr != X509_V_OK)
                co_return Error{ErrorKind::permanent, 0,
                                "TLS certificate verification failed for " + ep.key() + ": " +
                                    X509_verify_cert_error_string(vr)};
            co_return transport_error(ep, "TLS handshake failed with", hec, false);
        }
    }
    {
        std::lock_guard lock(impl.mu);
        ++impl.stats.connections_opened;
    }
    co_return std::move(c);
}

// Whether an idle pooled connection can carry a request: the peer has not closed it (FIN or RST) and sent
// nothing unasked (a TLS alert, stray bytes). A non-blocking MSG_PEEK tells without consuming anything, so
// a connection the server closed while idle is dropped BEFORE any byte of a request is written to it.
bool still_usable(Connection& c) {
    if (c.buffer.size() != 0) return false;
    char byte;
    const auto n = ::recv(c.tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0) return false;   // 0: closed by the peer; > 0: unread bytes, the stream is out of step
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

template <class Stream>
asio::awaitable<Exchange> exchange_on(Stream& stream, Connection& c, const http::request<http::string_body>& req,
                                      std::size_t max_body, Clock::time_point deadline) {
    Exchange out;
    c.tcp().expires_at(deadline);
    auto [wec, wn] = co_await http::async_write(stream, req, use_nothrow);
    if (wec) {
        out.ec = wec;
        out.bytes_written = wn;
        co_return out;
    }
    out.phase = Phase::awaiting_reply;
    http::response_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(max_body);
    // The header first, then room for the body it announces: a list page in one or a few reads, not in pieces of
    // 512 bytes (base/read_buffer.hpp).
    auto [hec, hn] = co_await http::async_read_header(stream, c.buffer, parser, use_nothrow);
    boost::system::error_code rec = hec;
    if (!rec) {
        reserve_for_body(c.buffer, parser.content_length(), kUnknownLengthRead, std::min(max_body, kMaxBodyRead));
        auto [bec, bn] = co_await http::async_read(stream, c.buffer, parser, use_nothrow);
        rec = bec;
    }
    trim_read_buffer(c.buffer, kUnknownLengthRead);
    if (rec) {
        out.ec = rec;
        if (parser.got_some()) out.phase = Phase::reading_reply;
        co_return out;
    }
    auto res = parser.release();
    out.response.status = res.result_int();
    for (const auto& f : res) {
        out.response.headers[ascii_lower(f.name_string())] = std::string(f.value());
    }
    out.response.body = std::move(res.body());
    // Bytes after the reply (pipelined or smuggled data) mean the stream is out of step: never reuse it.
    out.reusable = res.keep_alive() && !res.need_eof() && c.buffer.size() == 0;
    co_return out;
}

}  // namespace

asio::awaitable<Result<HttpResponse>> HttpPool::send(HttpRequest request) {
    if (!options_.observer && !options_.rate_limit_observer) co_return co_await send_once(std::move(request));
    const auto method = request.method;
    const std::string url = request.url;
    const std::string label = request.label;
    const auto started = std::chrono::steady_clock::now();
    auto result = co_await send_once(std::move(request));
    if (options_.observer)
        options_.observer(method, url, label, result ? result->status : 0u, std::chrono::steady_clock::now() - started);
    if (options_.rate_limit_observer && result)
        if (const auto* remaining = result->header("x-ratelimit-remaining")) {
            std::int64_t n = 0;
            const auto [end, ec] = std::from_chars(remaining->data(), remaining->data() + remaining->size(), n);
            if (ec == std::errc{} && end == remaining->data() + remaining->size())
                options_.rate_limit_observer(url, label, n);
        }
    co_return result;
}

asio::awaitable<Result<HttpResponse>> HttpPool::send_once(HttpRequest request) {
    auto self = shared_from_this();  // keep the pool alive while this request runs
    Impl& impl = *impl_;
    auto parsed = parse_endpoint(request.url);
    if (!parsed) co_return parsed.error();
    const Endpoint ep = std::move(parsed).value();
    if (ep.tls && !impl.ca_error.empty()) co_return Error{ErrorKind::permanent, 0, impl.ca_error};
    // Validated before anything else: a refused header must not even take a request slot.
    auto built = build_request(request, ep);
    if (!built) co_return built.error();
    const http::request<http::string_body> req = std::move(built).value();
    const auto deadline = Clock::now() + options_.timeout;
    const std::string key = ep.key();  // the origin: request slots are shared per origin, fairly
    const std::string idle_key = pool_key(request, ep);
    const bool require_public =
        !request.trusted_destination &&
        std::find(options_.allowed_origins.begin(), options_.allowed_origins.end(), key) == options_.allowed_origins.end();

    auto slot = co_await impl.slots->acquire(key, request.partition, deadline);
    if (!slot) co_return slot.error();
    const std::shared_ptr<SlotLease> lease = std::move(slot).value();  // held until this request ends
    if (Clock::now() >= deadline)
        co_return Error{ErrorKind::transient, 0,
                        "timed out waiting for a free request slot to " + key + " (too many requests in flight)"};

    for (int attempt = 0;; ++attempt) {
        const auto executor = co_await asio::this_coro::executor;
        std::unique_ptr<Connection> c = impl.idle.take(idle_key, executor);
        while (c && !still_usable(*c)) c = impl.idle.take(idle_key, executor);
        const bool reused = c != nullptr;
        if (!c) {
            auto addresses = co_await resolve_destination(ep, require_public, options_.resolver, deadline);
            if (!addresses) {
                if (require_public && addresses.error().code == ErrorKind::permanent) {
                    std::lock_guard lock(impl.mu);
                    ++impl.stats.destinations_refused;
                }
                Result<HttpResponse> refused(std::move(addresses).error());
                co_return refused;
            }
            auto fresh = co_await connect(impl, ep, addresses.value(), deadline);
            if (!fresh) {
                Result<HttpResponse> failed(std::move(fresh).error());   // named: see the note on `done` below
                co_return failed;
            }
            c = std::move(fresh).value();
        }
        // (no co_await inside ?: : GCC 12 destroys such temporaries twice)
        Exchange ex;
        if (c->tls) ex = co_await exchange_on(*c->tls, *c, req, options_.max_response_bytes, deadline);
        else ex = co_await exchange_on(*c->plain, *c, req, options_.max_response_bytes, deadline);
        if (!ex.ec) {
            ex.response.reused_connection = reused;
            if (reused) {
                std::lock_guard lock(impl.mu);
                ++impl.stats.requests_on_reused;
            }
            if (ex.reusable) impl.idle.put(idle_key, std::move(c));
            // Built as a named result first: GCC 12 destroys loop-scoped locals before a converting co_return
            // has read them (ASan: heap-use-after-free).
            Result<HttpResponse> done(std::move(ex.response));
            co_return done;
        }
        // Sending again on a fresh connection is allowed only when the request cannot have been applied:
        //  - nothing of it left this process (the write failed before its first byte; the probe above already
        //    dropped pooled connections the server had closed while idle), for any method; or
        //  - it is a GET or HEAD (safe and idempotent, RFC 9110 9.2) on a reused connection that failed
        //    before any reply byte arrived, the classic race with a server's idle timeout.
        // A write (POST, PUT, PATCH, DELETE, tag apply) of which any byte may have reached the peer is never
        // sent again here, whether the connection was fresh or reused: the CRM may have applied it and then
        // lost the connection. The caller gets an uncertain error and the job's next attempt looks its
        // records up by marker before creating anything.
        const bool closed = ex.ec == http::error::end_of_stream || ex.ec == asio::error::eof ||
                            ex.ec == asio::error::connection_reset || ex.ec == asio::error::broken_pipe ||
                            ex.ec == ssl::error::stream_truncated;
        const bool nothing_sent = ex.phase == Phase::writing && ex.bytes_written == 0;
        const bool safe_method = req.method() == http::verb::get || req.method() == http::verb::head;
        if (attempt == 0 && ex.ec != beast::error::timeout &&
            (nothing_sent ||
             (safe_method && reused && (ex.phase == Phase::writing || (ex.phase == Phase::awaiting_reply && closed)))))
            continue;
        if (ex.ec == http::error::body_limit)
            co_return Error{ErrorKind::permanent, 0,
                            "the reply from " + key + " exceeds " + std::to_string(options_.max_response_bytes) +
                                " bytes",
                            true};
        if (ex.phase == Phase::writing) co_return transport_error(ep, "sending the request to", ex.ec, !nothing_sent);
        co_return transport_error(ep, "reading the reply from", ex.ec, true);
    }
}

}  // namespace rollout_mcp::rollout
