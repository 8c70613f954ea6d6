// X-Rollout-Signature: decode the header once, compute the MAC over both documented inputs, and compare
// the header's bytes with each in constant time (CRYPTO_memcmp), always both.
#include "rollout/webhook_signature.hpp"

#include "rollout/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <optional>

namespace rollout_mcp::rollout {
namespace {

using Digest = std::array<unsigned char, 32>;

Digest hmac_sha256(std::string_view key, std::string_view data) {
    Digest mac{};
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), mac.data(), &len);
    return mac;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// 64 hex digits, or 43 base64 characters (+ one "=" of padding): exactly 32 bytes, else nullopt.
std::optional<Digest> decode_digest(std::string_view text) {
    Digest out{};
    if (text.size() == 64) {
        for (std::size_t i = 0; i < 32; ++i) {
            const int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out[i] = static_cast<unsigned char>(hi << 4 | lo);
        }
        return out;
    }
    if (text.size() == 44 && text.back() == '=') text.remove_suffix(1);
    if (text.size() != 43) return std::nullopt;
    // Standard base64 spelled as base64url, to share jwt.hpp's decoder; a "-" or "_" sent is refused.
    if (text.find_first_of("-_") != std::string_view::npos) return std::nullopt;
    std::string url(text);
    for (auto& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
    const auto bytes = base64url_decode(url);
    // Canonical only: 43 characters carry 258 bits, and the last two must be zero.
    if (!bytes || bytes->size() != out.size() || base64url_encode(*bytes) != url) return std::nullopt;
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return out;
}

std::string encode_hex(const Digest& d) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : d) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out = base64url_encode(bytes);
    for (auto& c : out) c = c == '-' ? '+' : c == '_' ? '/' : c;
    out.append((4 - out.size() % 4) % 4, '=');
    return out;
}

SignatureCheck verify_webhook_signature(std::string_view secret, std::string_view body, std::string_view header) {
    while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
    while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
    if (header.empty()) return SignatureCheck::missing;
    if (header.size() > kMaxSignatureHeader || secret.empty()) return SignatureCheck::malformed;
    const auto presented = decode_digest(header);
    if (!presented) return SignatureCheck::malformed;
    const Digest over_raw = hmac_sha256(secret, body);
    const std::string encoded = base64_encode(body);
    const Digest over_base64 = hmac_sha256(secret, encoded);
    // Both compared, whichever matches: the time taken does not say which form (or how much of it) matched.
    const int raw_differs = CRYPTO_memcmp(presented->data(), over_raw.data(), over_raw.size());
    const int base64_differs = CRYPTO_memcmp(presented->data(), over_base64.data(), over_base64.size());
    const bool matched = (raw_differs == 0) | (base64_differs == 0);
    return matched ? SignatureCheck::valid : SignatureCheck::mismatch;
}

std::string sign_webhook(std::string_view secret, std::string_view body, SignedOver over, DigestEncoding encoding) {
    const std::string encoded = over == SignedOver::base64_body ? base64_encode(body) : std::string();
    const Digest mac = hmac_sha256(secret, over == SignedOver::base64_body ? std::string_view(encoded) : body);
    if (encoding == DigestEncoding::hex) return encode_hex(mac);
    return base64_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

}  // namespace rollout_mcp::rollout
