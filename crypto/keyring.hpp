// Envelope keys: random data keys wrapped by the master key, the master-key check value that makes a
// wrong master key fail at start-up, and the Keyring of unwrapped data keys used for sealing/opening.
#pragma once

#include "crypto/secret_bytes.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace rollout_mcp::crypto {

using KeyId = std::uint32_t;

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kNonceBytes = 24;
inline constexpr std::size_t kMacBytes = 16;
inline constexpr std::size_t kWrappedKeyBytes = kKeyBytes + kMacBytes;
inline constexpr std::size_t kCheckValueBytes = 32;

// What a wrapped key is for. Each purpose (and each key id) gets its own wrapping key derived from the
// master key, so a wrapped blob moved to another id or purpose does not unwrap.
enum class WrapPurpose { data_key, api_key_root };

struct WrappedKey {
    std::array<unsigned char, kNonceBytes> nonce{};
    std::array<unsigned char, kWrappedKeyBytes> box{};
};

// secretbox(key) under a wrapping key = crypto_kdf(master, id, context of purpose); fresh random nonce.
WrappedKey wrap_key(const SecretBytes& master, WrapPurpose purpose, std::uint64_t id,
                    const SecretBytes& key);

// nullopt when the master key is wrong or the blob was altered or moved.
std::optional<SecretBytes> unwrap_key(const SecretBytes& master, WrapPurpose purpose,
                                      std::uint64_t id, const WrappedKey& wrapped);

// Keyed BLAKE2b of a constant under a master-derived subkey: identifies the master key without
// revealing it. Stored once per database; compared in constant time at start-up.
std::array<unsigned char, kCheckValueBytes> master_key_check_value(const SecretBytes& master);
bool master_key_matches(const SecretBytes& master, std::span<const unsigned char> stored_check);

// The unwrapped data keys of one database: one active key seals, every key can open.
// Not thread-safe; owned by the storage executor.
class Keyring {
public:
    // Throws std::logic_error on a duplicate id or a key that is not kKeyBytes long.
    void add(KeyId id, SecretBytes key);
    // Throws std::logic_error when the id is unknown.
    void set_active(KeyId id);
    bool has_active() const noexcept { return active_.has_value(); }
    // Throws std::logic_error when no key is active (programmer error: storage always sets one).
    KeyId active_id() const;
    const SecretBytes* find(KeyId id) const noexcept;
    std::vector<KeyId> ids() const;
    std::size_t size() const noexcept { return keys_.size(); }

private:
    std::map<KeyId, SecretBytes> keys_;
    std::optional<KeyId> active_;
};

}  // namespace rollout_mcp::crypto
