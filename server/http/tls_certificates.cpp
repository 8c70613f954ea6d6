// OpenSSL's secure defaults with the choices the issue spells out: TLS 1.2 or 1.3 as the floor, server
// cipher preference, no renegotiation, no compression, ALPN "http/1.1" only, session tickets on.
#include "server/http/tls_certificates.hpp"

#include "server/app/log.hpp"
#include "server/app/metrics.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace rollout_mcp {
namespace ssl = boost::asio::ssl;

namespace {

constexpr std::size_t kMaxPemBytes = 1024 * 1024;   // a certificate chain is a few KiB

Error tls_error(std::string message) { return invalid_argument(std::move(message)); }

std::string openssl_reason() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "no detail from OpenSSL";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

// Reads a PEM file. The key file is checked on the opened descriptor (not the path, which could be
// swapped in between): a regular file that neither group nor others may read or write.
Result<std::string> read_pem(const std::string& path, const char* setting, bool secret) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return tls_error(std::string(setting) + ": cannot open " + path + ": " + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return tls_error(std::string(setting) + ": cannot stat " + path);
    if (!S_ISREG(st.st_mode)) return tls_error(std::string(setting) + ": " + path + " is not a regular file");
    if (secret && (st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return tls_error(std::string(setting) + ": " + path + " has mode " + mode +
                         ", readable or writable by group or others; refusing it (run: chmod 600 " + path + ")");
    }
    if (st.st_size <= 0 || static_cast<std::size_t>(st.st_size) > kMaxPemBytes)
        return tls_error(std::string(setting) + ": " + path + " is empty or larger than 1 MiB");
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        const auto n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    return text;
}

// ALPN: HTTP/1.1 is what this server speaks; a client offering only other protocols (h2) is refused with
// the no_application_protocol alert (RFC 7301, section 3.2).
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                  void*) {
    static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, outlen, kHttp11, sizeof kHttp11, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

std::string iso8601_utc(std::int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void wipe(std::string& secret) {
    OPENSSL_cleanse(secret.data(), secret.size());
    secret.clear();
}

}  // namespace

TlsCertificates::Pair& TlsCertificates::Pair::operator=(Pair&& other) noexcept {
    if (this != &other) {
        wipe(key_pem);
        cert_pem = std::move(other.cert_pem);
        key_pem = std::move(other.key_pem);
        context = std::move(other.context);
        not_after = other.not_after;
    }
    return *this;
}

TlsCertificates::Pair::~Pair() { wipe(key_pem); }

TlsCertificates::TlsCertificates(const ServerSettings& settings) : settings_(settings) {
    auto pair = load();
    if (!pair) throw std::runtime_error(pair.error().message);
    current_ = std::move(*pair);
    auto& expiry = metrics::registry().gauge("rollout_mcp_tls_cert_expiry_seconds",
                                             "When the served TLS certificate expires (Unix time, seconds)");
    collect_hook_ = metrics::registry().on_collect(
        [this, &expiry] { expiry.with({}).set(static_cast<double>(not_after())); });
}

TlsCertificates::~TlsCertificates() { metrics::registry().remove_collect(collect_hook_); }

Result<TlsCertificates::Pair> TlsCertificates::load() const {
    auto cert = read_pem(settings_.tls_cert_file, "server.tls_cert_file", false);
    if (!cert) return std::move(cert).error();
    auto key = read_pem(settings_.tls_key_file, "server.tls_key_file", true);
    if (!key) return std::move(key).error();
    return build(std::move(*cert), std::move(*key));
}

Result<TlsCertificates::Pair> TlsCertificates::build(std::string cert_pem, std::string key_pem) const {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = context->native_handle();
    ERR_clear_error();
    SSL_CTX_set_min_proto_version(native, settings_.tls_min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_alpn_select_cb(native, select_http11, nullptr);
    boost::system::error_code ec;
    context->use_certificate_chain(boost::asio::buffer(cert_pem), ec);
    if (ec) return tls_error("server.tls_cert_file: " + settings_.tls_cert_file + " holds no usable PEM certificate: " +
                             openssl_reason());
    context->use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
    if (ec)
        return tls_error("server.tls_key_file: " + settings_.tls_key_file +
                         " is not a PEM private key, or it does not match the certificate in " +
                         settings_.tls_cert_file);
    if (SSL_CTX_check_private_key(native) != 1)
        return tls_error("server.tls_key_file: " + settings_.tls_key_file + " does not match the certificate in " +
                         settings_.tls_cert_file);
    ERR_clear_error();
    std::tm expires{};
    const ASN1_TIME* lapse = X509_get0_notAfter(SSL_CTX_get0_certificate(native));
    if (lapse == nullptr || ASN1_TIME_to_tm(lapse, &expires) != 1)
        return tls_error("server.tls_cert_file: " + settings_.tls_cert_file + " has no readable expiry date");
    Pair pair;
    pair.not_after = static_cast<std::int64_t>(timegm(&expires));
    pair.cert_pem = std::move(cert_pem);
    pair.key_pem = std::move(key_pem);
    pair.context = std::move(context);
    return pair;
}

std::shared_ptr<ssl::context> TlsCertificates::context() const {
    std::lock_guard lock(mu_);
    return current_.context;
}

Result<void> TlsCertificates::reload() {
    auto pair = load();
    if (!pair) return std::move(pair).error();
    std::lock_guard lock(mu_);
    current_ = std::move(*pair);
    return {};
}

void TlsCertificates::rotate_ticket_key() {
    std::string cert, key;
    {
        std::lock_guard lock(mu_);
        cert = current_.cert_pem;
        key = current_.key_pem;
    }
    auto pair = build(std::move(cert), std::move(key));
    wipe(key);   // (moved from; cleared either way)
    if (!pair) {
        log::warning("TLS session-ticket key rotation failed; the current key stays", {{"error", pair.error().message}});
        return;
    }
    std::lock_guard lock(mu_);
    // A reload in between installed another pair: keep it (it has a fresh ticket key of its own).
    if (current_.cert_pem == pair->cert_pem && current_.key_pem == pair->key_pem) current_.context = std::move(pair->context);
}

std::int64_t TlsCertificates::not_after() const {
    std::lock_guard lock(mu_);
    return current_.not_after;
}

boost::json::object TlsCertificates::status() const {
    const auto lapse = not_after();
    return {{"notAfter", iso8601_utc(lapse)},
            {"expiresInSeconds", lapse - now_seconds()},
            {"minVersion", settings_.tls_min_version}};
}

}  // namespace rollout_mcp
