// The raw side of the test client, over POSIX sockets: arbitrary bytes out, full responses
// (Content-Length, chunked, read-to-close) or SSE events in, always with a deadline.
#include "support/http_client.hpp"

#include "base/ascii.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rollout_mcp::test {
namespace json = boost::json;

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}


}  // namespace

// ---------------------------------------------------------------- responses and events

std::string HttpResponse::header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

json::value HttpResponse::json() const {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value() : v;
}

json::value SseEvent::json() const {
    boost::system::error_code ec;
    auto v = json::parse(data, ec);
    return ec ? json::value() : v;
}

namespace {

// One event block (without the blank line that ends it).
SseEvent parse_block(std::string_view block) {
    SseEvent ev;
    bool any_field = false;
    bool first_data = true;
    while (!block.empty()) {
        auto nl = block.find('\n');
        auto line = block.substr(0, nl);
        block = nl == std::string_view::npos ? std::string_view() : block.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == ':') continue;
        auto colon = line.find(':');
        auto field = line.substr(0, colon);
        std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        any_field = true;
        if (field == "id") {
            ev.id = value;
            ev.has_id = true;
        } else if (field == "event") {
            ev.event = value;
        } else if (field == "data") {
            if (!first_data) ev.data += '\n';
            ev.data += value;
            first_data = false;
        } else if (field == "retry") {
            ev.retry = std::stoull(std::string(value));
        }
    }
    ev.comment_only = !any_field;
    return ev;
}

}  // namespace

std::vector<SseEvent> parse_sse(std::string_view body) {
    std::vector<SseEvent> out;
    while (!body.empty()) {
        auto end = body.find("\n\n");
        if (end == std::string_view::npos) break;
        auto ev = parse_block(body.substr(0, end));
        if (!ev.comment_only) out.push_back(std::move(ev));
        body.remove_prefix(end + 2);
    }
    return out;
}

// ---------------------------------------------------------------- Client

Client::Client(std::uint16_t port, const ClientTls* tls) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd_);
        throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!tls) return;
    auto fail = [this](const std::string& what) {
        const unsigned long code = ERR_get_error();
        char text[256] = "";
        if (code) ERR_error_string_n(code, text, sizeof text);
        ERR_clear_error();
        release();
        throw std::runtime_error("TLS " + what + (code ? std::string(": ") + text : std::string()));
    };
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) fail("SSL_CTX_new");
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    BIO* bio = BIO_new_mem_buf(tls->ca_pem.data(), static_cast<int>(tls->ca_pem.size()));
    while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
        X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
        X509_free(ca);
    }
    BIO_free(bio);
    ERR_clear_error();
    ssl_ = SSL_new(ctx_);
    if (!ssl_) fail("SSL_new");
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, tls->verify_host.c_str());
    if (SSL_set1_host(ssl_, tls->verify_host.c_str()) != 1) fail("SSL_set1_host");
    std::string alpn;
    for (const auto& p : tls->alpn) alpn += static_cast<char>(p.size()) + p;
    if (!alpn.empty())
        SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(alpn.data()), static_cast<unsigned>(alpn.size()));
    if (tls->min_version) SSL_set_min_proto_version(ssl_, tls->min_version);
    if (tls->max_version) SSL_set_max_proto_version(ssl_, tls->max_version);
    timeval tv{5, 0};   // the handshake is blocking, bounded by socket timeouts
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (SSL_connect(ssl_) != 1) fail("handshake");
    // From here reads poll with their own deadlines.
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

Client::~Client() { release(); }

void Client::release() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    ssl_ = nullptr;
    ctx_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

long Client::read_some(char* buf, std::size_t size) {
    if (!ssl_) {
        const auto n = ::recv(fd_, buf, size, 0);
        return n > 0 ? n : n == 0 ? 0 : (errno == EINTR || errno == EAGAIN) ? -2 : -1;
    }
    const int n = SSL_read(ssl_, buf, static_cast<int>(size));
    if (n > 0) return n;
    const int why = SSL_get_error(ssl_, n);
    ERR_clear_error();
    if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) return -2;   // a record without data yet
    return why == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

bool Client::send(std::string_view bytes) {
    while (!bytes.empty()) {
        if (ssl_) {
            const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
            if (n > 0) {
                bytes.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            const int why = SSL_get_error(ssl_, n);
            ERR_clear_error();
            if (why != SSL_ERROR_WANT_WRITE && why != SSL_ERROR_WANT_READ) return false;
            pollfd p{fd_, static_cast<short>(why == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
            ::poll(&p, 1, 5000);
            continue;
        }
        auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool Client::fill(Deadline deadline) {
    if (eof_) return false;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        if (!ssl_ || SSL_pending(ssl_) == 0) {   // decrypted bytes may already wait inside OpenSSL
            pollfd p{fd_, POLLIN, 0};
            int r = ::poll(&p, 1, static_cast<int>(left.count()));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return false;
        }
        char buf[16384];
        const auto n = read_some(buf, sizeof buf);
        if (n == -2) continue;
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        raw_.append(buf, static_cast<std::size_t>(n));
        return true;
    }
}

bool Client::read_head_into(HttpResponse& r, Deadline deadline) {
    for (;;) {
        std::size_t end;
        while ((end = raw_.find("\r\n\r\n")) == std::string::npos)
            if (!fill(deadline)) {
                r.error = eof_ ? "connection closed before a complete head" : "timeout reading the head";
                return false;
            }
        std::istringstream head(raw_.substr(0, end));
        raw_.erase(0, end + 4);
        std::string line;
        std::getline(head, line);
        if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) {
            r.error = "bad status line: " + line;
            return false;
        }
        r.minor_version = static_cast<unsigned>(line[7] - '0');
        r.status = std::stoi(line.substr(9, 3));
        r.headers.clear();
        while (std::getline(head, line)) {
            auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            r.headers[ascii_lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
        }
        if (r.status >= 200) break;   // skip 100 Continue
    }
    chunked_ = ascii_lower(r.header("transfer-encoding")).find("chunked") != std::string::npos;
    body_done_ = false;
    sse_buf_.clear();
    return true;
}

bool Client::read_chunk(std::string& out, Deadline deadline) {
    std::size_t eol;
    while ((eol = raw_.find("\r\n")) == std::string::npos)
        if (!fill(deadline)) return false;
    const std::size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
    while (raw_.size() < eol + 2 + size + 2)
        if (!fill(deadline)) return false;
    out.append(raw_, eol + 2, size);
    raw_.erase(0, eol + 2 + size + 2);   // a last chunk has no trailers here
    if (size == 0) body_done_ = true;
    return true;
}

HttpResponse Client::read_response(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    HttpResponse r;
    if (!read_head_into(r, deadline)) {
        r.status = 0;
        return r;
    }
    auto fail = [&](const char* why) {
        r.error = eof_ ? std::string(why) + " (connection closed)" : std::string(why) + " (timeout)";
        r.status = 0;
        return r;
    };
    if (chunked_) {
        while (!body_done_)
            if (!read_chunk(r.body, deadline)) return fail("incomplete chunked body");
    } else if (r.has_header("content-length")) {
        const std::size_t n = std::stoul(r.header("content-length"));
        while (raw_.size() < n)
            if (!fill(deadline)) return fail("incomplete body");
        r.body = raw_.substr(0, n);
        raw_.erase(0, n);
    } else if (r.status != 204 && r.status != 304) {
        while (fill(deadline)) {
        }
        if (!eof_) return fail("body without length did not end");
        r.body = std::move(raw_);
        raw_.clear();
    }
    body_done_ = true;
    return r;
}

HttpResponse Client::read_head(std::chrono::milliseconds timeout) {
    HttpResponse r;
    if (!read_head_into(r, std::chrono::steady_clock::now() + timeout)) r.status = 0;
    return r;
}

std::optional<SseEvent> Client::next_event(std::chrono::milliseconds timeout, bool skip_comments) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        for (auto end = sse_buf_.find("\n\n"); end != std::string::npos; end = sse_buf_.find("\n\n")) {
            auto ev = parse_block(std::string_view(sse_buf_).substr(0, end));
            sse_buf_.erase(0, end + 2);
            if (!ev.comment_only || !skip_comments) return ev;
        }
        if (body_done_) return std::nullopt;
        if (chunked_) {
            if (!read_chunk(sse_buf_, deadline)) return std::nullopt;
        } else {
            if (raw_.empty() && !fill(deadline)) {
                if (eof_) body_done_ = true;
                return std::nullopt;
            }
            sse_buf_ += raw_;
            raw_.clear();
        }
    }
}

bool Client::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_) {
        raw_.clear();
        if (!fill(deadline) && !eof_) return false;
    }
    return true;
}

std::string Client::read_until_closed(std::chrono::milliseconds timeout, bool& closed) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_ && fill(deadline)) {}
    closed = eof_;
    return std::exchange(raw_, std::string());
}

// ---------------------------------------------------------------- builders

std::string http_request(std::string_view method, std::string_view target, const Headers& headers,
                         std::string_view body, std::string_view version) {
    std::string out;
    out.append(method).append(" ").append(target).append(" ").append(version).append("\r\n");
    bool has_length = false;
    for (const auto& [name, value] : headers) {
        out.append(name).append(": ").append(value).append("\r\n");
        if (ascii_lower(name) == "content-length" || ascii_lower(name) == "transfer-encoding") has_length = true;
    }
    if (!has_length && (!body.empty() || method == "POST"))
        out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    out.append("\r\n").append(body);
    return out;
}

std::string rpc_request(const json::value& id, std::string_view method, const json::object& params) {
    json::object msg{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!params.empty()) msg["params"] = params;
    return json::serialize(msg);
}

std::string rpc_notification(std::string_view method, const json::object& params) {
    json::object msg{{"jsonrpc", "2.0"}, {"method", method}};
    if (!params.empty()) msg["params"] = params;
    return json::serialize(msg);
}

std::size_t rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
    return 0;
}

}  // namespace rollout_mcp::test
