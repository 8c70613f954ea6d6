// Verifying Rollout's webhook signatures (X-Rollout-Signature), https://rollout.com/docs/advanced-guides/how-to-use-webhooks.
// The header is HMAC-SHA256 keyed with the team's webhook secret (by default its Client Secret), but Rollout's
// two documentation revisions disagree on what is signed and neither states the digest's encoding
// (/work/shared/research/rollout-api.md sections 4.1 and 6.1). Until a real delivery settles it, four forms
// are accepted: the MAC of the raw body or of the body's base64 (RFC 4648 section 4, padded), written in hex
// (either case) or in base64 (padded or not). Every candidate is computed and compared in constant time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rollout_mcp::rollout {

enum class SignatureCheck {
    valid,
    missing,     // no header, or an empty one: the delivery is unsigned
    malformed,   // not a hex or base64 SHA-256 digest (truncated, too long, stray characters)
    mismatch,    // a well-formed digest that no accepted form reproduces: forged, or another key
};

// Headers longer than this are refused as malformed before any decoding (a base64 digest is 44 characters).
inline constexpr std::size_t kMaxSignatureHeader = 128;

// `secret` must not be empty (a team without one gets no subscriptions; the caller refuses first).
SignatureCheck verify_webhook_signature(std::string_view secret, std::string_view body, std::string_view header);

// What the fake Rollout and the tests sign with: each of the four forms.
enum class SignedOver { raw_body, base64_body };
enum class DigestEncoding { hex, base64 };
std::string sign_webhook(std::string_view secret, std::string_view body, SignedOver over, DigestEncoding encoding);

// RFC 4648 section 4 base64 with padding (the "base64 of the body" form signs exactly this text).
std::string base64_encode(std::string_view bytes);

}  // namespace rollout_mcp::rollout
