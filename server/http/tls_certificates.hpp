// Inbound TLS: the server's certificate and key ([server] tls_cert_file, tls_key_file) as the OpenSSL
// context each new connection takes. SIGHUP reloads the pair (a connection keeps the context it started
// with, so nothing open is dropped); a bad new pair is refused and the old one kept. The context is rebuilt
// from the same PEM every twelve hours so the session-ticket key rotates (docs/ARCHITECTURE.md, "Transport
// rules").
#pragma once

#include "base/result.hpp"
#include "server/app/config.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace rollout_mcp {

class TlsCertificates {
public:
    // Reads and checks both files; throws std::runtime_error naming the file and the problem (a key readable
    // by group or others, a key that does not match the certificate, unreadable PEM).
    explicit TlsCertificates(const ServerSettings& settings);
    ~TlsCertificates();
    TlsCertificates(const TlsCertificates&) = delete;
    TlsCertificates& operator=(const TlsCertificates&) = delete;

    // The context for a new connection (it must keep the pointer while the connection lives).
    std::shared_ptr<boost::asio::ssl::context> context() const;
    // Re-reads both files (SIGHUP); on any problem the serving pair stays and the error says why.
    Result<void> reload();
    // Rebuilds the context from the pair in memory: a fresh session-ticket key.
    void rotate_ticket_key();
    // When the serving certificate lapses, in seconds since the Unix epoch.
    std::int64_t not_after() const;
    // For /readyz: {"notAfter": ISO 8601, "expiresInSeconds": n, "minVersion": "1.2"}.
    boost::json::object status() const;

private:
    // The PEM stays in memory for the ticket-key rebuild; the key text is wiped when a Pair lets it go.
    struct Pair {
        Pair() = default;
        Pair(Pair&&) = default;
        Pair& operator=(Pair&& other) noexcept;
        Pair(const Pair&) = delete;
        Pair& operator=(const Pair&) = delete;
        ~Pair();
        std::string cert_pem, key_pem;
        std::shared_ptr<boost::asio::ssl::context> context;
        std::int64_t not_after = 0;
    };
    Result<Pair> load() const;
    Result<Pair> build(std::string cert_pem, std::string key_pem) const;

    const ServerSettings settings_;
    mutable std::mutex mu_;
    Pair current_;
    std::size_t collect_hook_ = 0;
};

}  // namespace rollout_mcp
