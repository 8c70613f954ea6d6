#include "crypto/api_key.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace rollout_mcp::crypto {
namespace {

TEST(ApiKey, GeneratedKeysHaveTheDocumentedShape) {
    const ApiKeyHasher hasher(SecretBytes::random(32));
    std::set<std::string> prefixes;
    for (int i = 0; i < 100; ++i) {
        const NewApiKey k = hasher.generate();
        const std::string_view text = k.key.text();
        ASSERT_EQ(text.size(), kApiKeyChars);
        EXPECT_TRUE(text.starts_with("rmcp_"));
        EXPECT_EQ(api_key_prefix(text), std::optional<std::string_view>(k.prefix));
        EXPECT_EQ(k.prefix, std::string(text.substr(5, 8)));
        EXPECT_TRUE(hasher.matches(text, k.hash));
        prefixes.insert(k.prefix);
    }
    EXPECT_EQ(prefixes.size(), 100u);
}

TEST(ApiKey, AnyChangedCharacterOrOtherRootFails) {
    const SecretBytes root = SecretBytes::random(32);
    const ApiKeyHasher hasher(root);
    const NewApiKey k = hasher.generate();
    std::string tampered(k.key.text());
    for (std::size_t i = 5; i < tampered.size(); ++i) {
        const char saved = tampered[i];
        tampered[i] = saved == 'A' ? 'B' : 'A';
        EXPECT_FALSE(hasher.matches(tampered, k.hash)) << "position " << i;
        tampered[i] = saved;
    }
    EXPECT_FALSE(ApiKeyHasher(SecretBytes::random(32)).matches(k.key.text(), k.hash));
    EXPECT_TRUE(ApiKeyHasher(SecretBytes::copy_of(root.view())).matches(k.key.text(), k.hash));
    EXPECT_FALSE(hasher.matches(k.key.text(), std::span(k.hash).first(31)));
}

TEST(ApiKey, PrefixParserRejectsMalformedKeys) {
    const std::string good = "rmcp_" + std::string(43, 'a');
    EXPECT_TRUE(api_key_prefix(good));
    EXPECT_FALSE(api_key_prefix(""));
    EXPECT_FALSE(api_key_prefix("rmcp_"));
    EXPECT_FALSE(api_key_prefix(good.substr(0, 47)));
    EXPECT_FALSE(api_key_prefix(good + "a"));
    EXPECT_FALSE(api_key_prefix("RMCP_" + std::string(43, 'a')));
    EXPECT_FALSE(api_key_prefix("rmcp_" + std::string(42, 'a') + "="));
    EXPECT_FALSE(api_key_prefix("rmcp_" + std::string(42, 'a') + "+"));
}

}  // namespace
}  // namespace rollout_mcp::crypto
