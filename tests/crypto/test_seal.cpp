#include "crypto/keyring.hpp"
#include "crypto/seal.hpp"
#include "tests/crypto/test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace rollout_mcp::crypto {
namespace {

using test::bytes;

class Seal : public ::testing::Test {
protected:
    void SetUp() override {
        ring.add(1, SecretBytes::random(kKeyBytes));
        ring.add(2, SecretBytes::random(kKeyBytes));
        ring.set_active(2);
    }
    Keyring ring;
    const RowIdentity row{"t_aaaa", "crm_connection", "hubspot"};
};

TEST_F(Seal, RoundTripsEverySize) {
    for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 255u, 4096u}) {
        const std::string plain(n, 'x');
        const SealedSecret s = seal(ring, row, bytes(plain));
        EXPECT_EQ(s.key_id, 2u);
        EXPECT_EQ(s.ciphertext.size(), n + kMacBytes);
        auto opened = open(ring, row, s.key_id, s.nonce, s.ciphertext);
        ASSERT_TRUE(opened) << opened.error().message;
        EXPECT_EQ(opened->text(), plain);
    }
}

TEST_F(Seal, CiphertextDoesNotContainPlaintext) {
    const std::string plain = "cred_0123456789abcdef";
    const SealedSecret s = seal(ring, row, bytes(plain));
    EXPECT_FALSE(test::contains(s.ciphertext, plain));
}

TEST_F(Seal, FlippingAnyNonceByteFailsWithRowNamed) {
    const SealedSecret s = seal(ring, row, bytes("credential-key-123"));
    for (std::size_t i = 0; i < s.nonce.size(); ++i) {
        for (unsigned char bit : {0x01, 0x80}) {
            auto nonce = s.nonce;
            nonce[i] ^= bit;
            auto opened = open(ring, row, s.key_id, nonce, s.ciphertext);
            ASSERT_FALSE(opened) << "nonce byte " << i;
            EXPECT_EQ(opened.error().code, OpenFailure::authentication_failed);
            EXPECT_NE(opened.error().message.find("tenant 't_aaaa' crm_connection/hubspot"),
                      std::string::npos)
                << opened.error().message;
        }
    }
}

TEST_F(Seal, FlippingAnyCiphertextByteFails) {
    const SealedSecret s = seal(ring, row, bytes("credential-key-123"));
    for (std::size_t i = 0; i < s.ciphertext.size(); ++i) {
        auto ct = s.ciphertext;
        ct[i] ^= 0x01;
        auto opened = open(ring, row, s.key_id, s.nonce, ct);
        ASSERT_FALSE(opened) << "ciphertext byte " << i;
        EXPECT_EQ(opened.error().code, OpenFailure::authentication_failed);
    }
}

TEST_F(Seal, AnotherRowIdentityDoesNotOpen) {
    const SealedSecret s = seal(ring, row, bytes("secret"));
    const RowIdentity others[] = {
        {"t_bbbb", "crm_connection", "hubspot"},   // another tenant
        {"t_aaaa", "crm_connection", "lofty"},     // another CRM of the same tenant
        {"t_aaaa", "rollout_config", "hubspot"},   // another table
        {"t_aaa", "acrm_connection", "hubspot"},   // same concatenation, other split
    };
    for (const RowIdentity& other : others) {
        auto opened = open(ring, other, s.key_id, s.nonce, s.ciphertext);
        ASSERT_FALSE(opened) << describe(other);
        EXPECT_EQ(opened.error().code, OpenFailure::authentication_failed);
        EXPECT_NE(opened.error().message.find(describe(other)), std::string::npos);
    }
}

TEST_F(Seal, KeyIdIsBoundToo) {
    // The same key bytes under another id must not open: the id is part of the row key.
    Keyring twin;
    twin.add(7, SecretBytes::copy_of(ring.find(2)->view()));
    const SealedSecret s = seal(ring, row, bytes("secret"));
    EXPECT_FALSE(open(twin, row, 7, s.nonce, s.ciphertext));
    EXPECT_FALSE(open(ring, row, 1, s.nonce, s.ciphertext));  // a retired key, wrong id
}

TEST_F(Seal, UnknownKeyIdAndMalformedInputFailCleanly) {
    const SealedSecret s = seal(ring, row, bytes("secret"));
    auto unknown = open(ring, row, 99, s.nonce, s.ciphertext);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, OpenFailure::unknown_key_id);
    EXPECT_NE(unknown.error().message.find("data key 99"), std::string::npos);

    auto short_nonce = open(ring, row, s.key_id, std::span(s.nonce).first(23), s.ciphertext);
    ASSERT_FALSE(short_nonce);
    EXPECT_EQ(short_nonce.error().code, OpenFailure::malformed);
    auto short_ct = open(ring, row, s.key_id, s.nonce, std::span(s.ciphertext).first(kMacBytes - 1));
    ASSERT_FALSE(short_ct);
    EXPECT_EQ(short_ct.error().code, OpenFailure::malformed);
}

TEST_F(Seal, RetiredKeysStillOpenAfterRotation) {
    ring.set_active(1);
    const SealedSecret old = seal(ring, row, bytes("old"));
    ring.set_active(2);
    const SealedSecret fresh = seal(ring, row, bytes("new"));
    EXPECT_EQ(old.key_id, 1u);
    EXPECT_EQ(fresh.key_id, 2u);
    EXPECT_EQ(open(ring, row, old.key_id, old.nonce, old.ciphertext)->text(), "old");
    EXPECT_EQ(open(ring, row, fresh.key_id, fresh.nonce, fresh.ciphertext)->text(), "new");
}

TEST_F(Seal, HundredThousandSealsNeverRepeatANonce) {
    std::unordered_set<std::string> seen;
    seen.reserve(100'000);
    for (int i = 0; i < 100'000; ++i) {
        const SealedSecret s = seal(ring, row, bytes("same plaintext every time"));
        ASSERT_TRUE(seen.emplace(reinterpret_cast<const char*>(s.nonce.data()), s.nonce.size()).second)
            << "nonce repeated at seal " << i;
    }
}

TEST(Envelope, WrapUnwrapBindsMasterPurposeAndId) {
    const SecretBytes master = SecretBytes::random(kKeyBytes);
    const SecretBytes other_master = SecretBytes::random(kKeyBytes);
    const SecretBytes dek = SecretBytes::random(kKeyBytes);
    const WrappedKey w = wrap_key(master, WrapPurpose::data_key, 3, dek);
    auto back = unwrap_key(master, WrapPurpose::data_key, 3, w);
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->equals(dek.view()));
    EXPECT_FALSE(unwrap_key(other_master, WrapPurpose::data_key, 3, w));
    EXPECT_FALSE(unwrap_key(master, WrapPurpose::data_key, 4, w));
    EXPECT_FALSE(unwrap_key(master, WrapPurpose::api_key_root, 3, w));
    WrappedKey tampered = w;
    tampered.box[0] ^= 1;
    EXPECT_FALSE(unwrap_key(master, WrapPurpose::data_key, 3, tampered));
    // Fresh nonce every wrap.
    EXPECT_NE(wrap_key(master, WrapPurpose::data_key, 3, dek).nonce, w.nonce);
}

TEST(Envelope, CheckValueIdentifiesTheMasterKey) {
    const SecretBytes master = SecretBytes::random(kKeyBytes);
    const SecretBytes other = SecretBytes::random(kKeyBytes);
    const auto check = master_key_check_value(master);
    EXPECT_EQ(check, master_key_check_value(master));  // deterministic
    EXPECT_TRUE(master_key_matches(master, check));
    EXPECT_FALSE(master_key_matches(other, check));
    EXPECT_FALSE(master_key_matches(master, std::span(check).first(31)));
}

TEST(Keyring, RejectsMisuse) {
    Keyring ring;
    EXPECT_FALSE(ring.has_active());
    EXPECT_THROW((void)ring.active_id(), std::logic_error);
    EXPECT_THROW(ring.add(1, SecretBytes::random(16)), std::logic_error);
    ring.add(1, SecretBytes::random(kKeyBytes));
    EXPECT_THROW(ring.add(1, SecretBytes::random(kKeyBytes)), std::logic_error);
    EXPECT_THROW(ring.set_active(2), std::logic_error);
    EXPECT_EQ(ring.find(2), nullptr);
}

}  // namespace
}  // namespace rollout_mcp::crypto
