// The one HTTP test client of every test folder, always with a deadline, to loopback only:
//  - Client: one raw TCP connection (POSIX sockets) that sends arbitrary bytes and reads full responses or
//    SSE events incrementally (the server's transport tests);
//  - call() / call_kept_alive(): whole exchanges over Beast, plain or TLS with CA + host-name verification
//    and SNI, one per connection or several on one kept-alive connection (the fake Rollout's tests).
// Both answer with the same HttpResponse.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct ssl_st;       // OpenSSL's SSL and SSL_CTX, kept out of this header
struct ssl_ctx_st;

namespace rollout_mcp::test {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
    int status = 0;                          // 0: no complete response (see `error`)
    unsigned minor_version = 1;
    std::map<std::string, std::string> headers;   // lowercase names
    std::string body;
    std::string error;                       // transport error ("" when a response arrived)
    bool timed_out = false;                  // call(): the deadline passed before the answer
    std::chrono::milliseconds elapsed{0};    // call(): the whole exchange

    std::string header(const std::string& lowercase_name) const;
    bool has_header(const std::string& lowercase_name) const { return headers.count(lowercase_name) != 0; }
    boost::json::value json() const;        // parsed body (null when it is not JSON)
};

struct SseEvent {
    std::string id, event, data;
    std::optional<std::uint64_t> retry;
    bool has_id = false;
    bool comment_only = false;              // a block of comment lines (keep-alive)
    boost::json::value json() const;        // parsed data (null when empty/not JSON)
};

std::vector<SseEvent> parse_sse(std::string_view body);

// TLS for a Client: the CA to trust and the name to verify (and send as SNI).
struct ClientTls {
    std::string ca_pem;
    std::string verify_host = "localhost";
    std::vector<std::string> alpn = {"http/1.1"};   // offered protocols, in order
    int min_version = 0, max_version = 0;            // TLS1_1_VERSION...; 0 = OpenSSL's default
};

// One TCP (or TLS) connection to the server on 127.0.0.1; blocking with deadlines, single-threaded use.
class Client {
public:
    // Connects; with `tls`, completes the handshake within 5 s. Throws std::runtime_error when either fails.
    explicit Client(std::uint16_t port, const ClientTls* tls = nullptr);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool send(std::string_view bytes);       // false when the peer is gone
    // A full response (Content-Length, chunked or read-to-close body).
    HttpResponse read_response(std::chrono::milliseconds timeout = 5s);
    // Only the head of a streamed (SSE) response; then next_event() reads its body incrementally.
    HttpResponse read_head(std::chrono::milliseconds timeout = 5s);
    // The next SSE event of the streamed body; nullopt on timeout or end of body/connection.
    std::optional<SseEvent> next_event(std::chrono::milliseconds timeout, bool skip_comments = true);
    bool body_ended() const { return body_done_; }
    // Reads and discards until the server closes the connection; false on timeout.
    bool wait_closed(std::chrono::milliseconds timeout);
    // Every byte not read yet and every byte that arrives until the server closes (a reset counts as a
    // close) or `timeout` passes; `closed` says which.
    std::string read_until_closed(std::chrono::milliseconds timeout, bool& closed);
    bool closed() const { return eof_; }

private:
    using Deadline = std::chrono::steady_clock::time_point;
    bool fill(Deadline deadline);            // more raw bytes; false on timeout or EOF
    bool read_head_into(HttpResponse& r, Deadline deadline);
    bool read_chunk(std::string& out, Deadline deadline);   // one chunk; sets body_done_ on the last
    void release();                          // frees the TLS state and closes the socket
    long read_some(char* buf, std::size_t size);   // >0 bytes, 0 EOF, -1 error, -2 nothing yet (TLS)
    int fd_ = -1;
    ::ssl_ctx_st* ctx_ = nullptr;
    ::ssl_st* ssl_ = nullptr;
    std::string raw_;
    bool eof_ = false;
    bool chunked_ = false;
    bool body_done_ = false;
    std::string sse_buf_;
};

// Wire form of a request; Content-Length is added when there is a body (or method is POST).
std::string http_request(std::string_view method, std::string_view target, const Headers& headers,
                         std::string_view body = {}, std::string_view version = "HTTP/1.1");

// JSON-RPC text builders.
std::string rpc_request(const boost::json::value& id, std::string_view method,
                        const boost::json::object& params = {});
std::string rpc_notification(std::string_view method, const boost::json::object& params = {});

struct CallOptions {
    bool tls = false;
    std::string connect_host = "127.0.0.1";      // the address dialled (loopback)
    std::string verify_host = "localhost";       // SNI + certificate host-name check (tls)
    std::string ca_pem;                          // trusted CA (tls); empty = system store only
    std::chrono::milliseconds timeout{5000};     // whole exchange
    Headers headers;
};

// One request on its own connection ("Connection: close").
HttpResponse call(std::uint16_t port, const std::string& method, const std::string& target,
                  const std::string& body = {}, const CallOptions& options = {});

struct SequencedRequest {
    std::string method, target, body;
    Headers headers;
};
// The requests one after another on ONE kept-alive plain-HTTP connection; stops after the first transport
// error (that result carries it), so the 2nd+ requests exercise faults on a reused connection.
std::vector<HttpResponse> call_kept_alive(std::uint16_t port, const std::vector<SequencedRequest>& requests,
                                          const CallOptions& options = {});

// VmRSS of this process in KiB.
std::size_t rss_kib();

}  // namespace rollout_mcp::test
