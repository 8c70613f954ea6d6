// X-Rollout-Signature verification: each of the four accepted forms against independently computed
// values (RFC 4231 test case 2, and its base64-body variant computed with Python's hmac), then what must
// fail: forged, another key, truncated, padded out, stray characters, empty, oversized.
#include "rollout/webhook_signature.hpp"

#include <gtest/gtest.h>

namespace rollout_mcp::rollout {
namespace {

constexpr std::string_view kKey = "Jefe";
constexpr std::string_view kBody = "what do ya want for nothing?";
// HMAC-SHA256(key, body): RFC 4231 section 4.3.
constexpr std::string_view kRawHex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
constexpr std::string_view kRawBase64 = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=";
// HMAC-SHA256(key, base64(body)).
constexpr std::string_view kB64Hex = "16841a40f389f50b8b0118d6185d67acd5dd9a63368254b8fdb086c80692b104";
constexpr std::string_view kB64Base64 = "FoQaQPOJ9QuLARjWGF1nrNXdmmM2glS4/bCGyAaSsQQ=";

TEST(WebhookSignature, AcceptsEachOfTheFourForms) {
    for (auto sig : {kRawHex, kRawBase64, kB64Hex, kB64Base64})
        EXPECT_EQ(verify_webhook_signature(kKey, kBody, sig), SignatureCheck::valid) << sig;
    // Upper-case hex, unpadded base64 and surrounding blanks are the same digest.
    std::string upper(kRawHex);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(verify_webhook_signature(kKey, kBody, upper), SignatureCheck::valid);
    EXPECT_EQ(verify_webhook_signature(kKey, kBody, kRawBase64.substr(0, 43)), SignatureCheck::valid);
    EXPECT_EQ(verify_webhook_signature(kKey, kBody, " " + std::string(kB64Hex) + "\t"), SignatureCheck::valid);
}

TEST(WebhookSignature, SignerProducesTheSameFourForms) {
    EXPECT_EQ(sign_webhook(kKey, kBody, SignedOver::raw_body, DigestEncoding::hex), kRawHex);
    EXPECT_EQ(sign_webhook(kKey, kBody, SignedOver::raw_body, DigestEncoding::base64), kRawBase64);
    EXPECT_EQ(sign_webhook(kKey, kBody, SignedOver::base64_body, DigestEncoding::hex), kB64Hex);
    EXPECT_EQ(sign_webhook(kKey, kBody, SignedOver::base64_body, DigestEncoding::base64), kB64Base64);
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
}

TEST(WebhookSignature, ForgedOrOtherKeyOrOtherBodyIsAMismatch) {
    std::string flipped(kRawHex);
    flipped[10] = flipped[10] == '0' ? '1' : '0';
    EXPECT_EQ(verify_webhook_signature(kKey, kBody, flipped), SignatureCheck::mismatch);
    EXPECT_EQ(verify_webhook_signature("Jefe2", kBody, kRawHex), SignatureCheck::mismatch);
    EXPECT_EQ(verify_webhook_signature(kKey, "what do ya want for nothing!", kB64Base64), SignatureCheck::mismatch);
    EXPECT_EQ(verify_webhook_signature(kKey, kBody, std::string(64, '0')), SignatureCheck::mismatch);
    // The signature of the body's base64 does not verify the base64 text as a body, nor the other way round.
    // (A body that is itself the base64 text verifies by its raw form: the scheme cannot tell them apart.)
    EXPECT_EQ(verify_webhook_signature(kKey, base64_encode(kBody), kB64Hex), SignatureCheck::valid);
    EXPECT_EQ(verify_webhook_signature(kKey, base64_encode(kBody), kRawHex), SignatureCheck::mismatch);
}

TEST(WebhookSignature, TruncatedPaddedOrStrayCharactersAreMalformed) {
    for (std::string bad : {std::string(kRawHex.substr(0, 63)), std::string(kRawHex) + "0",
                            std::string(kRawHex.substr(0, 62)), std::string(kRawBase64.substr(0, 42)),
                            std::string(kRawBase64) + "=", "sha256=" + std::string(kRawHex),
                            std::string(kRawHex.substr(0, 63)) + "g", std::string(kRawBase64.substr(0, 42)) + "-=",
                            std::string(kRawBase64.substr(0, 42)) + "N=",   // non-zero trailing bits
                            std::string("not a signature")})
        EXPECT_EQ(verify_webhook_signature(kKey, kBody, bad), SignatureCheck::malformed) << bad;
}

TEST(WebhookSignature, EmptyIsMissingAndOversizedIsMalformed) {
    EXPECT_EQ(verify_webhook_signature(kKey, kBody, ""), SignatureCheck::missing);
    EXPECT_EQ(verify_webhook_signature(kKey, kBody, "  "), SignatureCheck::missing);
    EXPECT_EQ(verify_webhook_signature(kKey, kBody, std::string(kMaxSignatureHeader + 1, 'a')), SignatureCheck::malformed);
    EXPECT_EQ(verify_webhook_signature(kKey, kBody, std::string(1 << 20, 'a')), SignatureCheck::malformed);
    // No key, nothing verifies.
    EXPECT_EQ(verify_webhook_signature("", kBody, kRawHex), SignatureCheck::malformed);
}

}  // namespace
}  // namespace rollout_mcp::rollout
