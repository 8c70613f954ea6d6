// HTTPS/HTTP client transport for Rollout, the single outbound boundary of the server: keep-alive
// connections per (partition, origin), verified TLS with SNI, plain HTTP only for loopback hosts, no
// non-public destinations unless listed, validated headers, per-request deadline, fair per-origin request
// slots, reply cap.
#pragma once

#include "destination.hpp"
#include "outbound_request.hpp"
#include "errors.hpp"

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
    std::size_t max_idle_per_host = 8;               // idle keep-alive connections kept per (team, host)
    // Idle connections kept in all: with one idle set per team and host, many teams that went quiet would
    // otherwise keep sockets open until their own next call. Expired ones are swept on every return.
    std::size_t max_idle_total = 256;
    std::size_t max_concurrent_per_host = 16;        // requests in flight per host; the rest wait in line
    // One partition (team) may hold at most max(1, floor(share x max_concurrent_per_host)) of a host's
    // slots and max(1, floor(share x max_queued_per_host)) of its waiting line; the line holds at most
    // max_queued_per_host. Beyond that a request is refused at once (rate_limited, retry after 1 s).
    double per_team_host_share = 0.25;
    std::size_t max_queued_per_host = 256;
    // Origins ("scheme://host:port", as origin_of() normalizes them) a team may reach although they resolve
    // to a non-public address: the operator's [rollout] allowed_base_urls.
    std::vector<std::string> allowed_origins;
    Resolver resolver;                               // empty = Asio's resolver (the system's DNS)
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
    std::map<std::string, std::size_t> partition_in_flight_peak;  // the same, per partition (team)
    std::size_t destinations_refused = 0;  // requests refused for a non-public destination
};

// Shared by every RolloutClient of the process (one per team). Thread-safe; run it on a multi-threaded
// io_context if you like: each request is one coroutine, pooled connections are handed over under a lock.
class HttpPool : public std::enable_shared_from_this<HttpPool> {
public:
    static std::shared_ptr<HttpPool> create(HttpOptions options = {});
    ~HttpPool();

    // Transport errors become Error{transient|permanent, status 0}; any HTTP status is a response. A request
    // with a bad header or target, or for a non-public destination, is refused before anything is sent.
    boost::asio::awaitable<Result<HttpResponse>> send(HttpRequest request);

    PoolStats stats() const;
    // For an owner that stops its io_context with requests still in flight (the test harness), before that
    // io_context is destroyed: closes every idle keep-alive connection (a socket must not outlive its
    // io_context) and drops the requests waiting for a slot. main does not need it: its io_context runs
    // dry first, and the pool goes before it.
    void close_idle();
    const HttpOptions& options() const { return options_; }

    struct Impl;

private:
    explicit HttpPool(HttpOptions options);
    boost::asio::awaitable<Result<HttpResponse>> send_once(HttpRequest request);
    HttpOptions options_;
    std::unique_ptr<Impl> impl_;
};

// Maps a non-2xx reply to an Error: kind from the status, our own message, the remote's text apart in
// `upstream` (only from a JSON body: errorMessage, errors[0].message, error or message; capped, control bytes
// removed), retry_after from Retry-After.
Error error_from_response(const HttpResponse& response, std::chrono::system_clock::time_point now =
                                                            std::chrono::system_clock::now());
// Retry-After: delta-seconds or an HTTP-date (IMF-fixdate); nullopt if absent or unparsable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

}  // namespace rollout_mcp::rollout
