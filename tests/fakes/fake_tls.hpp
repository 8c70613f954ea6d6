// Throw-away TLS material for tests, made at run time with the OpenSSL 3 C API: a self-signed CA and a server
// certificate it signs for localhost, 127.0.0.1 and ::1. Nothing is written to disk; no openssl CLI needed.
#pragma once

#include <chrono>
#include <string>

namespace rollout_mcp::fake {

struct TlsMaterial {
    std::string ca_pem;      // trust this to verify the server (e.g. ssl::context::add_certificate_authority)
    std::string cert_pem;    // server certificate (leaf), signed by the CA
    std::string key_pem;     // server private key (PKCS#8)
};

// The server certificate's validity (offsets from now) and names; the defaults make a good certificate.
struct TlsOptions {
    std::chrono::seconds not_before{-3600};
    std::chrono::seconds not_after{2 * 24 * 3600};
    std::string subject_alt_names = "DNS:localhost,IP:127.0.0.1,IP:::1";
};

// A fresh CA and server certificate (P-256, SHA-256). Throws std::runtime_error naming the failing OpenSSL
// call.
TlsMaterial make_test_tls(const TlsOptions& options = {});

// One set per process, made on first use (tests share it to stay fast).
const TlsMaterial& shared_test_tls();

}  // namespace rollout_mcp::fake
