// Sealing secrets bound to their row: secretbox under a per-row key = keyed BLAKE2b(data key, row
// identity). secretbox has no associated data, so this derivation is what makes a ciphertext copied to
// another row, kind or tenant fail to open.
#pragma once

#include "base/result.hpp"
#include "crypto/keyring.hpp"
#include "crypto/secret_bytes.hpp"

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace rollout_mcp::crypto {

// Which row a secret belongs to. Every field goes into the per-row key (length-prefixed, so
// {"ab","c"} and {"a","bc"} differ), together with the key id.
struct RowIdentity {
    std::string_view tenant;
    std::string_view kind;      // table or secret kind, e.g. "crm_connection"
    std::string_view provider;  // e.g. the CRM type; "rollout" for the Rollout config
};

// "tenant 't_1' crm_connection/hubspot": names a row in errors without revealing anything secret.
std::string describe(const RowIdentity& row);

struct SealedSecret {
    KeyId key_id = 0;
    std::array<unsigned char, kNonceBytes> nonce{};
    std::vector<unsigned char> ciphertext;  // plaintext size + kMacBytes
};

enum class OpenFailure {
    unknown_key_id = 1,     // the row names a data key this keyring does not hold
    malformed,              // nonce of the wrong size or ciphertext shorter than the MAC
    authentication_failed,  // wrong key, tampered bytes, or a ciphertext moved from another row
};

const std::error_category& open_failure_category() noexcept;
inline std::error_code make_error_code(OpenFailure failure) noexcept {
    return {static_cast<int>(failure), open_failure_category()};
}

// Seals under the keyring's active key with a fresh random nonce.
SealedSecret seal(const Keyring& keys, const RowIdentity& row,
                  std::span<const unsigned char> plaintext);

// Seals under a specific data key (rotation re-seals under the new active key through seal()).
SealedSecret seal_with(KeyId key_id, const SecretBytes& data_key, const RowIdentity& row,
                       std::span<const unsigned char> plaintext);

// A failure's message names the row and the key id; it never contains secret bytes.
Result<SecretBytes> open(const Keyring& keys, const RowIdentity& row, KeyId key_id,
                         std::span<const unsigned char> nonce,
                         std::span<const unsigned char> ciphertext);
// The same for client data (a sync job's payload), opened into ordinary wiped memory (secret_bytes.hpp).
Result<WipedBuffer> open_data(const Keyring& keys, const RowIdentity& row, KeyId key_id,
                              std::span<const unsigned char> nonce, std::span<const unsigned char> ciphertext);

}  // namespace rollout_mcp::crypto

template <>
struct std::is_error_code_enum<rollout_mcp::crypto::OpenFailure> : std::true_type {};
