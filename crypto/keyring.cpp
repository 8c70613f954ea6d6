#include "crypto/keyring.hpp"

#include <sodium.h>

#include <stdexcept>
#include <string>

namespace rollout_mcp::crypto {
namespace {

static_assert(kKeyBytes == crypto_secretbox_KEYBYTES);
static_assert(kNonceBytes == crypto_secretbox_NONCEBYTES);
static_assert(kMacBytes == crypto_secretbox_MACBYTES);
static_assert(kKeyBytes == crypto_kdf_KEYBYTES);

// crypto_kdf contexts are exactly 8 bytes; one per purpose so no subkey serves two jobs.
const char* wrap_context(WrapPurpose p) {
    switch (p) {
        case WrapPurpose::data_key: return "datakey_";
        case WrapPurpose::api_key_root: return "apiroot_";
    }
    throw std::logic_error("unknown WrapPurpose");
}

constexpr char kCheckContext[] = "mkcheck_";
constexpr unsigned char kCheckMessage[] = "rollout-mcp/master-key-check/v1";

void require_master(const SecretBytes& master) {
    if (master.size() != kKeyBytes) throw std::logic_error("master key must be 32 bytes");
}

}  // namespace

WrappedKey wrap_key(const SecretBytes& master, WrapPurpose purpose, std::uint64_t id,
                    const SecretBytes& key) {
    ensure_sodium();
    require_master(master);
    if (key.size() != kKeyBytes) throw std::logic_error("wrapped keys must be 32 bytes");
    unsigned char kek[kKeyBytes];
    ScopedWipe wipe(kek, sizeof kek);
    crypto_kdf_derive_from_key(kek, sizeof kek, id, wrap_context(purpose), master.data());
    WrappedKey out;
    randombytes_buf(out.nonce.data(), out.nonce.size());
    crypto_secretbox_easy(out.box.data(), key.data(), key.size(), out.nonce.data(), kek);
    return out;
}

std::optional<SecretBytes> unwrap_key(const SecretBytes& master, WrapPurpose purpose,
                                      std::uint64_t id, const WrappedKey& wrapped) {
    ensure_sodium();
    require_master(master);
    unsigned char kek[kKeyBytes];
    ScopedWipe wipe(kek, sizeof kek);
    crypto_kdf_derive_from_key(kek, sizeof kek, id, wrap_context(purpose), master.data());
    SecretBytes key(kKeyBytes);
    if (crypto_secretbox_open_easy(key.data(), wrapped.box.data(), wrapped.box.size(),
                                   wrapped.nonce.data(), kek) != 0)
        return std::nullopt;  // `key` is wiped by its destructor
    return key;
}

std::array<unsigned char, kCheckValueBytes> master_key_check_value(const SecretBytes& master) {
    ensure_sodium();
    require_master(master);
    unsigned char subkey[kKeyBytes];
    ScopedWipe wipe(subkey, sizeof subkey);
    crypto_kdf_derive_from_key(subkey, sizeof subkey, 1, kCheckContext, master.data());
    std::array<unsigned char, kCheckValueBytes> out{};
    crypto_generichash(out.data(), out.size(), kCheckMessage, sizeof kCheckMessage - 1, subkey,
                       sizeof subkey);
    return out;
}

bool master_key_matches(const SecretBytes& master, std::span<const unsigned char> stored_check) {
    if (stored_check.size() != kCheckValueBytes) return false;
    const auto expected = master_key_check_value(master);
    return sodium_memcmp(expected.data(), stored_check.data(), kCheckValueBytes) == 0;
}

void Keyring::add(KeyId id, SecretBytes key) {
    if (key.size() != kKeyBytes) throw std::logic_error("data keys must be 32 bytes");
    if (keys_.contains(id))
        throw std::logic_error("data key id " + std::to_string(id) + " already in the keyring");
    keys_.emplace(id, std::move(key));
}

void Keyring::set_active(KeyId id) {
    if (!keys_.contains(id))
        throw std::logic_error("cannot activate unknown data key id " + std::to_string(id));
    active_ = id;
}

KeyId Keyring::active_id() const {
    if (!active_) throw std::logic_error("keyring has no active data key");
    return *active_;
}

const SecretBytes* Keyring::find(KeyId id) const noexcept {
    const auto it = keys_.find(id);
    return it == keys_.end() ? nullptr : &it->second;
}

std::vector<KeyId> Keyring::ids() const {
    std::vector<KeyId> out;
    out.reserve(keys_.size());
    for (const auto& [id, key] : keys_) out.push_back(id);
    return out;
}

}  // namespace rollout_mcp::crypto
