#include "crypto/api_key.hpp"

#include "crypto/encoding.hpp"
#include "crypto/keyring.hpp"

#include <sodium.h>

#include <cstring>
#include <stdexcept>

namespace rollout_mcp::crypto {
namespace {

constexpr char kContext[] = "apikeys_";
constexpr unsigned char kDomain[] = "rollout-mcp/api-key/v1";

bool is_base64url_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

}  // namespace

std::optional<std::string_view> api_key_prefix(std::string_view presented) {
    if (presented.size() != kApiKeyChars || !presented.starts_with(kApiKeyTag)) return std::nullopt;
    const std::string_view body = presented.substr(kApiKeyTag.size());
    for (char c : body)
        if (!is_base64url_char(c)) return std::nullopt;
    return body.substr(0, kApiKeyPrefixChars);
}

ApiKeyHasher::ApiKeyHasher(const SecretBytes& root) : key_(kKeyBytes) {
    ensure_sodium();
    if (root.size() != kKeyBytes) throw std::logic_error("API key root must be 32 bytes");
    crypto_kdf_derive_from_key(key_.data(), key_.size(), 1, kContext, root.data());
}

NewApiKey ApiKeyHasher::generate() const {
    SecretBytes random = SecretBytes::random(kApiKeyRandomBytes);
    SecretBytes body = secret_to_base64(random.view(), Base64::url_unpadded);
    SecretBytes key(kApiKeyTag.size() + body.size());
    std::memcpy(key.data(), kApiKeyTag.data(), kApiKeyTag.size());
    std::memcpy(key.data() + kApiKeyTag.size(), body.data(), body.size());
    NewApiKey out{std::move(key), std::string(body.text().substr(0, kApiKeyPrefixChars)), {}};
    out.hash = hash(out.key.text());
    return out;
}

ApiKeyHash ApiKeyHasher::hash(std::string_view presented) const {
    crypto_generichash_state st;
    ScopedWipe wipe(&st, sizeof st);
    crypto_generichash_init(&st, key_.data(), key_.size(), kApiKeyHashBytes);
    crypto_generichash_update(&st, kDomain, sizeof kDomain - 1);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(presented.data()),
                              presented.size());
    ApiKeyHash out{};
    crypto_generichash_final(&st, out.data(), out.size());
    return out;
}

bool ApiKeyHasher::matches(std::string_view presented,
                           std::span<const unsigned char> stored_hash) const {
    const ApiKeyHash h = hash(presented);
    if (stored_hash.size() != h.size()) return false;
    return sodium_memcmp(h.data(), stored_hash.data(), h.size()) == 0;
}

}  // namespace rollout_mcp::crypto
