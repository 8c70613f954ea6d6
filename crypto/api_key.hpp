// API keys for tenants: generation ("rmcp_" + base64url of 32 random bytes), the stored lookup prefix,
// and the keyed BLAKE2b hash that is the only thing persisted. Verification is constant-time.
#pragma once

#include "crypto/secret_bytes.hpp"

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rollout_mcp::crypto {

inline constexpr std::string_view kApiKeyTag = "rmcp_";
inline constexpr std::size_t kApiKeyRandomBytes = 32;
inline constexpr std::size_t kApiKeyBodyChars = 43;  // base64url, unpadded, of 32 bytes
inline constexpr std::size_t kApiKeyChars = 5 + kApiKeyBodyChars;
inline constexpr std::size_t kApiKeyPrefixChars = 8;  // 48 bits: finds the row, not enough to guess
inline constexpr std::size_t kApiKeyHashBytes = 32;

using ApiKeyHash = std::array<unsigned char, kApiKeyHashBytes>;

struct NewApiKey {
    SecretBytes key;     // the full "rmcp_..." token; shown to the operator once, never stored
    std::string prefix;  // the 8 characters after "rmcp_"; stored in clear for lookup and display
    ApiKeyHash hash;
};

// The lookup prefix of a well-formed key, or nullopt (wrong tag, length or alphabet). The check is on
// public structure only; it does not reveal anything about a stored key.
std::optional<std::string_view> api_key_prefix(std::string_view presented);

// Holds the hashing key: crypto_kdf_derive_from_key(root, 1, "apikeys_"). The root is a random key
// stored wrapped by the master key (not the master key itself), so changing the master key does not
// invalidate every issued API key.
class ApiKeyHasher {
public:
    explicit ApiKeyHasher(const SecretBytes& root);

    NewApiKey generate() const;
    ApiKeyHash hash(std::string_view presented) const;
    // Constant-time comparison of hash(presented) with the stored hash.
    bool matches(std::string_view presented, std::span<const unsigned char> stored_hash) const;

private:
    SecretBytes key_;
};

}  // namespace rollout_mcp::crypto
