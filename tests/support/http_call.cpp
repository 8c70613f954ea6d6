// The Beast side of the test client: whole exchanges (plain or TLS with CA + host-name verification and
// SNI), bounded by a deadline so a server that never answers shows up as timed_out.
#include "support/http_client.hpp"

#include "base/ascii.hpp"
#include "base/use_nothrow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

namespace rollout_mcp::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

template <class Stream>
asio::awaitable<void> exchange(Stream& stream, http::request<http::string_body>& req, HttpResponse& out,
                               beast::flat_buffer& buffer) {
    auto [wec, wn] = co_await http::async_write(stream, req, use_nothrow);
    if (wec) {
        out.error = "write: " + wec.message();
        out.timed_out = wec == beast::error::timeout;
        co_return;
    }
    http::response<http::string_body> res;
    auto [rec, rn] = co_await http::async_read(stream, buffer, res, use_nothrow);
    if (rec) {
        out.error = "read: " + rec.message();
        out.timed_out = rec == beast::error::timeout;
        co_return;
    }
    out.status = static_cast<int>(res.result_int());
    out.minor_version = res.version() % 10;
    out.body = res.body();
    for (const auto& f : res) out.headers[ascii_lower(f.name_string())] = std::string(f.value());
}

template <class Stream>
asio::awaitable<void> exchange(Stream& stream, http::request<http::string_body>& req, HttpResponse& out) {
    beast::flat_buffer buffer;
    co_await exchange(stream, req, out, buffer);
}

}  // namespace

HttpResponse call(std::uint16_t port, const std::string& method, const std::string& target, const std::string& body,
                  const CallOptions& options) {
    HttpResponse out;
    const auto start = std::chrono::steady_clock::now();
    asio::io_context ioc;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, (options.tls ? options.verify_host : options.connect_host) + ":" + std::to_string(port));
    for (const auto& [k, v] : options.headers) req.set(k, v);
    req.body() = body;
    req.keep_alive(false);
    req.prepare_payload();
    asio::ssl::context ssl(asio::ssl::context::tls_client);
    if (options.tls) {
        ssl.set_verify_mode(asio::ssl::verify_peer);
        if (!options.ca_pem.empty()) ssl.add_certificate_authority(asio::buffer(options.ca_pem));
        ssl.set_verify_callback(asio::ssl::host_name_verification(options.verify_host));
    }
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            beast::tcp_stream tcp_stream(ioc);
            tcp_stream.expires_after(options.timeout);
            tcp::endpoint ep(asio::ip::make_address(options.connect_host), port);
            auto [cec] = co_await tcp_stream.async_connect(ep, use_nothrow);
            if (cec) {
                out.error = "connect: " + cec.message();
                co_return;
            }
            if (!options.tls) {
                co_await exchange(tcp_stream, req, out);
                co_return;
            }
            beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), ssl);
            boost::system::error_code not_ip;
            asio::ip::make_address(options.verify_host, not_ip);
            if (not_ip) SSL_set_tlsext_host_name(stream.native_handle(), options.verify_host.c_str());
            auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_nothrow);
            if (hec) {
                out.error = "handshake: " + hec.message();
                co_return;
            }
            co_await exchange(stream, req, out);
        },
        asio::detached);
    ioc.run();
    out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return out;
}

std::vector<HttpResponse> call_kept_alive(std::uint16_t port, const std::vector<SequencedRequest>& requests,
                                          const CallOptions& options) {
    std::vector<HttpResponse> out;
    asio::io_context ioc;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            beast::tcp_stream stream(ioc);
            stream.expires_after(options.timeout);
            tcp::endpoint ep(asio::ip::make_address(options.connect_host), port);
            auto [cec] = co_await stream.async_connect(ep, use_nothrow);
            if (cec) {
                out.push_back(HttpResponse{});
                out.back().error = "connect: " + cec.message();
                co_return;
            }
            beast::flat_buffer buffer;   // one buffer for the connection, as a real keep-alive client keeps
            for (const auto& r : requests) {
                const auto start = std::chrono::steady_clock::now();
                http::request<http::string_body> req{http::string_to_verb(r.method), r.target, 11};
                req.set(http::field::host, options.connect_host + ":" + std::to_string(port));
                for (const auto& [k, v] : options.headers) req.set(k, v);
                for (const auto& [k, v] : r.headers) req.set(k, v);
                req.body() = r.body;
                req.keep_alive(true);
                req.prepare_payload();
                out.emplace_back();
                co_await exchange(stream, req, out.back(), buffer);
                out.back().elapsed =
                    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
                if (!out.back().error.empty()) co_return;
            }
        },
        asio::detached);
    ioc.run();
    return out;
}

}  // namespace rollout_mcp::test
