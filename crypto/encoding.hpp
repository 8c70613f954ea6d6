// Base64 helpers on libsodium's constant-time codec, so decoding a key never branches on secret bytes.
#pragma once

#include "crypto/secret_bytes.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rollout_mcp::crypto {

enum class Base64 { standard, url_unpadded };

// Non-secret data only (result lives in a std::string).
std::string to_base64(std::span<const unsigned char> bytes, Base64 variant = Base64::standard);

// Encodes a secret into secret memory (no NUL terminator).
SecretBytes secret_to_base64(std::span<const unsigned char> bytes, Base64 variant);

// Decodes text that must yield exactly `expected_size` bytes; nullopt for anything else
// (bad characters, wrong length, trailing garbage). Never says which byte was wrong.
std::optional<SecretBytes> secret_from_base64(std::string_view text, std::size_t expected_size,
                                              Base64 variant = Base64::standard);

}  // namespace rollout_mcp::crypto
