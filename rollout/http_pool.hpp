// HTTPS/HTTP client transport for Rollout: keep-alive connection pool per (scheme, host, port), verified TLS
// with SNI, plain HTTP only for loopback hosts, per-request deadline, per-host concurrency cap, reply cap.
#pragma once

#include "result.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace rollout_mcp::rollout {

struct HttpOptions {
    std::chrono::milliseconds timeout{30'000};       // whole request: queueing + connect + TLS + write + read
    std::size_t max_idle_per_host = 8;               // idle keep-alive connections kept per host
    std::size_t max_concurrent_per_host = 16;        // requests in flight per host; the rest wait in line
    std::size_t max_response_bytes = 8 * 1024 * 1024;
    std::chrono::seconds idle_expiry{30};            // idle connections older than this are closed, not reused
    std::string extra_ca_pem;                        // trusted in addition to the system store (tests)
    bool use_system_ca = true;                       // load OpenSSL's default verify paths
    // Called after every request with its method, URL and label, the HTTP status (0 = no response) and
    // the time it took: the server's metrics hook. Must be cheap and thread-safe.
    std::function<void(boost::beast::http::verb, const std::string& url, const std::string& label, unsigned status,
                       std::chrono::steady_clock::duration elapsed)> observer;
    // Called when a response carries X-RateLimit-Remaining (Rollout or the CRM behind it reports it).
    std::function<void(const std::string& url, const std::string& label, std::int64_t remaining)> rate_limit_observer;
};

struct HttpRequest {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    std::string url;                                       // absolute http(s) URL
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                                      // sent with Content-Type: application/json if non-empty
    std::string label;                                     // passed to the observers (metrics), not sent
};

struct HttpResponse {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    bool reused_connection = false;              // served over a pooled keep-alive connection

    const std::string* header(const std::string& lower_name) const;
};

struct PoolStats {
    std::size_t connections_opened = 0;
    std::size_t requests_on_reused = 0;
    std::size_t idle = 0;
    std::size_t in_flight_peak = 0;  // highest number of concurrent requests seen on any one host
};

// Parses an absolute URL and applies the transport policy (https anywhere; http only to loopback hosts).
struct Endpoint {
    bool tls = true;
    std::string host;  // without IPv6 brackets
    std::string port;
    std::string target;  // path + query, at least "/"
    std::string key() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};
Result<Endpoint> parse_endpoint(std::string_view url);
bool is_loopback_host(std::string_view host);

// Shared by every RolloutClient of the process (one per team). Thread-safe; run it on a multi-threaded
// io_context if you like: each request is one coroutine, pooled connections are handed over under a lock.
class HttpPool : public std::enable_shared_from_this<HttpPool> {
public:
    static std::shared_ptr<HttpPool> create(HttpOptions options = {});
    ~HttpPool();

    // Transport errors become Error{transient|permanent, status 0}; any HTTP status is a response.
    boost::asio::awaitable<Result<HttpResponse>> send(HttpRequest request);

    PoolStats stats() const;
    // Closes every idle keep-alive connection now. Call it before the io_context the connections were
    // opened on is destroyed (server shutdown): a socket must not outlive its io_context.
    void close_idle();
    const HttpOptions& options() const { return options_; }

    struct Impl;

private:
    explicit HttpPool(HttpOptions options);
    boost::asio::awaitable<Result<HttpResponse>> send_once(HttpRequest request);
    HttpOptions options_;
    std::unique_ptr<Impl> impl_;
};

// Maps a non-2xx reply to an Error: kind from the status, message from the body (errorMessage,
// errors[0].message, error, message, else the raw text), retry_after from Retry-After.
Error error_from_response(const HttpResponse& response, std::chrono::system_clock::time_point now =
                                                            std::chrono::system_clock::now());
// Retry-After: delta-seconds or an HTTP-date (IMF-fixdate); nullopt if absent or unparsable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

}  // namespace rollout_mcp::rollout
