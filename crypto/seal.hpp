// Sealing secrets bound to their row: secretbox under a per-row key = keyed BLAKE2b(data key, row
// identity). secretbox has no associated data, so this derivation is what makes a ciphertext copied to
// another row, kind or tenant fail to open.
#pragma once

#include "crypto/expected.hpp"
#include "crypto/keyring.hpp"
#include "crypto/secret_bytes.hpp"

#include <array>
#include <span>
#include <string>
#include <string_view>
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
    unknown_key_id,         // the row names a data key this keyring does not hold
    malformed,              // nonce of the wrong size or ciphertext shorter than the MAC
    authentication_failed,  // wrong key, tampered bytes, or a ciphertext moved from another row
};

struct OpenError {
    OpenFailure reason;
    std::string message;  // names the row and the key id; never contains secret bytes
};

// Seals under the keyring's active key with a fresh random nonce.
SealedSecret seal(const Keyring& keys, const RowIdentity& row,
                  std::span<const unsigned char> plaintext);

// Seals under a specific data key (rotation re-seals under the new active key through seal()).
SealedSecret seal_with(KeyId key_id, const SecretBytes& data_key, const RowIdentity& row,
                       std::span<const unsigned char> plaintext);

Expected<SecretBytes, OpenError> open(const Keyring& keys, const RowIdentity& row, KeyId key_id,
                                      std::span<const unsigned char> nonce,
                                      std::span<const unsigned char> ciphertext);

}  // namespace rollout_mcp::crypto
