#include "crypto/encoding.hpp"

#include <sodium.h>

#include <cstring>

namespace rollout_mcp::crypto {
namespace {

int sodium_variant(Base64 v) {
    return v == Base64::standard ? sodium_base64_VARIANT_ORIGINAL
                                 : sodium_base64_VARIANT_URLSAFE_NO_PADDING;
}

}  // namespace

std::string to_base64(std::span<const unsigned char> bytes, Base64 variant) {
    ensure_sodium();
    const int v = sodium_variant(variant);
    std::string out(sodium_base64_encoded_len(bytes.size(), v), '\0');
    sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), v);
    out.resize(out.size() - 1);  // drop the NUL the encoder writes
    return out;
}

SecretBytes secret_to_base64(std::span<const unsigned char> bytes, Base64 variant) {
    ensure_sodium();
    const int v = sodium_variant(variant);
    SecretBytes with_nul(sodium_base64_encoded_len(bytes.size(), v));
    sodium_bin2base64(reinterpret_cast<char*>(with_nul.data()), with_nul.size(), bytes.data(),
                      bytes.size(), v);
    return SecretBytes::copy_of(with_nul.view().first(with_nul.size() - 1));
}

std::optional<SecretBytes> secret_from_base64(std::string_view text, std::size_t expected_size,
                                              Base64 variant) {
    ensure_sodium();
    // One spare byte lets us notice input that decodes to more than expected.
    SecretBytes out(expected_size + 1);
    std::size_t decoded = 0;
    const char* end = nullptr;
    const int rc = sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr,
                                     &decoded, &end, sodium_variant(variant));
    if (rc != 0 || decoded != expected_size || end != text.data() + text.size())
        return std::nullopt;
    return SecretBytes::copy_of(out.view().first(expected_size));
}

}  // namespace rollout_mcp::crypto
