// Test CA + server certificate generation with OpenSSL 3 (EVP_PKEY_Q_keygen, X509 + v3 extensions, PEM to memory).
#include "fake_tls.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <mutex>
#include <stdexcept>

namespace rollout_mcp::fake {
namespace {

struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(BIO* p) const { BIO_free(p); }
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;

[[noreturn]] void fail(const char* what) {
    char buf[256] = {0};
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    throw std::runtime_error(std::string("test TLS: ") + what + " failed: " + buf);
}
void check(int rc, const char* what) {
    if (rc <= 0) fail(what);
}

Key new_key() {
    Key key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) fail("EVP_PKEY_Q_keygen");
    return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    std::unique_ptr<X509_EXTENSION, Free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext) fail("X509V3_EXT_conf_nid");
    check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

// A certificate for `key` named `cn`, issued by (issuer, issuer_key); a null issuer means self-signed.
Cert new_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca,
              const TlsOptions& options = {}) {
    Cert cert(X509_new());
    if (!cert) fail("X509_new");
    check(X509_set_version(cert.get(), 2), "X509_set_version");
    unsigned char serial[16];
    check(RAND_bytes(serial, sizeof serial), "RAND_bytes");
    serial[0] &= 0x7F;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()))) fail("serial number");
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), ca ? -2 * 24 * 3600 : options.not_before.count());
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), ca ? 2 * 24 * 3600 : options.not_after.count());
    check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");
    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("rollout-mcp tests"),
                                     -1, -1, 0),
          "X509_NAME_add_entry_by_txt");
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0),
          "X509_NAME_add_entry_by_txt");
    X509* signer = issuer ? issuer : cert.get();
    check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)), "X509_set_issuer_name");
    add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
    if (ca) {
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
        add_ext(cert.get(), signer, NID_subject_alt_name, options.subject_alt_names.c_str());
    }
    check(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()), "X509_sign");
    return cert;
}

std::string bio_string(BIO* bio) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(len));
}

std::string cert_pem(X509* cert) {
    std::unique_ptr<BIO, Free> bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
    return bio_string(bio.get());
}

std::string key_pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, Free> bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), "PEM_write_bio_PrivateKey");
    return bio_string(bio.get());
}

}  // namespace

TlsMaterial make_test_tls(const TlsOptions& options) {
    Key ca_key = new_key();
    Cert ca = new_cert(ca_key.get(), "rollout-mcp test CA", nullptr, nullptr, true);
    Key server_key = new_key();
    Cert server = new_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), false, options);
    return TlsMaterial{cert_pem(ca.get()), cert_pem(server.get()), key_pem(server_key.get())};
}

const TlsMaterial& shared_test_tls() {
    static std::once_flag once;
    static TlsMaterial material;
    std::call_once(once, [] { material = make_test_tls(); });
    return material;
}

}  // namespace rollout_mcp::fake
