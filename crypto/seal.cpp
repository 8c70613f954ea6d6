#include "crypto/seal.hpp"

#include <sodium.h>

#include <stdexcept>

namespace rollout_mcp::crypto {
namespace {

constexpr unsigned char kRowDomain[] = "rollout-mcp/row-key/v1";

void put_u32(crypto_generichash_state& st, std::uint32_t v) {
    const unsigned char be[4] = {static_cast<unsigned char>(v >> 24),
                                 static_cast<unsigned char>(v >> 16),
                                 static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
    crypto_generichash_update(&st, be, sizeof be);
}

void put_field(crypto_generichash_state& st, std::string_view field) {
    if (field.size() > 0xffffffffu) throw std::logic_error("row identity field too long");
    put_u32(st, static_cast<std::uint32_t>(field.size()));
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(field.data()),
                              field.size());
}

// out must hold kKeyBytes; the caller wipes it.
void derive_row_key(unsigned char* out, const SecretBytes& data_key, const RowIdentity& row,
                    KeyId key_id) {
    crypto_generichash_state st;
    ScopedWipe wipe_state(&st, sizeof st);  // the state holds key-derived material
    crypto_generichash_init(&st, data_key.data(), data_key.size(), kKeyBytes);
    crypto_generichash_update(&st, kRowDomain, sizeof kRowDomain - 1);
    put_field(st, row.tenant);
    put_field(st, row.kind);
    put_field(st, row.provider);
    put_u32(st, key_id);
    crypto_generichash_final(&st, out, kKeyBytes);
}

Error open_error(OpenFailure reason, const RowIdentity& row, KeyId key_id, std::string_view what) {
    return Error{reason, "cannot open the secret of " + describe(row) + " (data key " +
                                 std::to_string(key_id) + "): " + std::string(what)};
}

class OpenFailureCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "crypto.open"; }
    std::string message(int value) const override {
        switch (static_cast<OpenFailure>(value)) {
            case OpenFailure::unknown_key_id: return "unknown_key_id";
            case OpenFailure::malformed: return "malformed";
            case OpenFailure::authentication_failed: return "authentication_failed";
        }
        return "open failure " + std::to_string(value);
    }
};
}  // namespace

const std::error_category& open_failure_category() noexcept {
    static const OpenFailureCategory category;
    return category;
}

std::string describe(const RowIdentity& row) {
    return "tenant '" + std::string(row.tenant) + "' " + std::string(row.kind) + "/" +
           std::string(row.provider);
}

SealedSecret seal_with(KeyId key_id, const SecretBytes& data_key, const RowIdentity& row,
                       std::span<const unsigned char> plaintext) {
    ensure_sodium();
    if (data_key.size() != kKeyBytes) throw std::logic_error("data keys must be 32 bytes");
    unsigned char row_key[kKeyBytes];
    ScopedWipe wipe(row_key, sizeof row_key);
    derive_row_key(row_key, data_key, row, key_id);
    SealedSecret out;
    out.key_id = key_id;
    randombytes_buf(out.nonce.data(), out.nonce.size());
    out.ciphertext.resize(plaintext.size() + kMacBytes);
    const unsigned char empty_source = 0;  // an empty span may carry a null pointer
    crypto_secretbox_easy(out.ciphertext.data(), plaintext.empty() ? &empty_source : plaintext.data(),
                          plaintext.size(), out.nonce.data(), row_key);
    return out;
}

SealedSecret seal(const Keyring& keys, const RowIdentity& row,
                  std::span<const unsigned char> plaintext) {
    const KeyId id = keys.active_id();
    return seal_with(id, *keys.find(id), row, plaintext);
}

namespace {

// Opens into a buffer made by `make(size)` (SecretBytes or WipedBuffer: both have data(), empty(), size()).
template <typename Buffer, typename Make>
Result<Buffer> open_as(const Keyring& keys, const RowIdentity& row, KeyId key_id, std::span<const unsigned char> nonce,
                       std::span<const unsigned char> ciphertext, Make make) {
    ensure_sodium();
    const SecretBytes* data_key = keys.find(key_id);
    if (data_key == nullptr)
        return open_error(OpenFailure::unknown_key_id, row, key_id,
                                     "this data key is not in the keyring");
    if (nonce.size() != kNonceBytes || ciphertext.size() < kMacBytes)
        return open_error(OpenFailure::malformed, row, key_id,
                                     "malformed nonce or ciphertext");
    unsigned char row_key[kKeyBytes];
    ScopedWipe wipe(row_key, sizeof row_key);
    derive_row_key(row_key, *data_key, row, key_id);
    Buffer plain = make(ciphertext.size() - kMacBytes);
    // An empty buffer has no memory; secretbox still needs a writable pointer for empty plaintexts.
    unsigned char empty_sink = 0;
    unsigned char* dst = plain.empty() ? &empty_sink : plain.data();
    if (crypto_secretbox_open_easy(dst, ciphertext.data(), ciphertext.size(), nonce.data(),
                                   row_key) != 0)
        return open_error(OpenFailure::authentication_failed, row, key_id,
                                     "authentication failed (wrong key, tampered data, or a "
                                     "ciphertext that belongs to another row)");
    return plain;
}

}  // namespace

Result<SecretBytes> open(const Keyring& keys, const RowIdentity& row, KeyId key_id,
                         std::span<const unsigned char> nonce, std::span<const unsigned char> ciphertext) {
    return open_as<SecretBytes>(keys, row, key_id, nonce, ciphertext, [](std::size_t n) { return SecretBytes(n); });
}

Result<WipedBuffer> open_data(const Keyring& keys, const RowIdentity& row, KeyId key_id,
                              std::span<const unsigned char> nonce, std::span<const unsigned char> ciphertext) {
    return open_as<WipedBuffer>(keys, row, key_id, nonce, ciphertext, [](std::size_t n) { return WipedBuffer(n); });
}

}  // namespace rollout_mcp::crypto
