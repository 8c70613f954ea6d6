// configure_rollout's webhookSecret against the fake Rollout: sealed with the other secrets and never shown
// in a result; by default the client secret signs (clientId + clientSecret mode), an authToken alone has no
// webhook key; too short, hostile or NUL-carrying values are refused naming the field, storing nothing.
#include "sync_harness.hpp"

#include "server/tools/rollout_tools.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;

constexpr const char* kWebhookSecret = "whsec-0123456789abcdef";

class WebhookSecret : public ::testing::Test {
protected:
    void SetUp() override {
        team = h.add_team("webhook-secret", {});
        register_config_tools(tools, h.team());
    }
    json::object configure(json::object extra) {
        json::object args{{"projectEnvKey", "p"}, {"baseUrl", h.fake().url()}};
        for (const auto& kv : extra) args[kv.key()] = kv.value();
        return call_tool(h, tools, team, "configure_rollout", args);
    }
    static const json::object& sc(const json::object& r) { return r.at("structuredContent").as_object(); }
    static bool is_error(const json::object& r) { return r.contains("isError") && r.at("isError").as_bool(); }
    // The key that would verify this team's deliveries now.
    std::string stored_key() {
        auto stored = h.on_storage([this](storage::Storage& s) { return s.get_rollout_config(team); });
        if (!stored) throw std::runtime_error(stored.error().message);
        auto settings = RolloutSettings::from_json(stored->settings_json);
        return std::string(webhook_key(*settings, *stored));
    }

    Harness h;
    ToolRegistry tools;
    std::string team;
};

TEST_F(WebhookSecret, GivenItIsSealedUsedAndNeverEchoed) {
    auto r = configure({{"clientId", "sync-test-client"}, {"clientSecret", "sync-test-secret"}, {"webhookSecret", kWebhookSecret}});
    ASSERT_FALSE(is_error(r)) << json::serialize(r);
    EXPECT_EQ(sc(r).at("webhookKey").as_string(), "webhookSecret");
    EXPECT_EQ(json::serialize(r).find(kWebhookSecret), std::string::npos);
    EXPECT_EQ(json::serialize(r).find("sync-test-secret"), std::string::npos);
    EXPECT_EQ(stored_key(), kWebhookSecret);
    // Sealed: the bytes are nowhere in the database in clear.
    auto raw = h.database().raw();
    auto st = raw->prepare("SELECT ciphertext FROM rollout_configs");
    ASSERT_TRUE(st.step());
    const auto blob = st.blob(0);
    EXPECT_EQ(std::search(blob.begin(), blob.end(), kWebhookSecret, kWebhookSecret + 16), blob.end());
}

TEST_F(WebhookSecret, DefaultsToTheClientSecretAndAnAuthTokenAloneHasNone) {
    auto r = configure({{"clientId", "sync-test-client"}, {"clientSecret", "sync-test-secret"}});
    ASSERT_FALSE(is_error(r)) << json::serialize(r);
    EXPECT_EQ(sc(r).at("webhookKey").as_string(), "clientSecret");
    EXPECT_EQ(stored_key(), "sync-test-secret");
    auto token = configure({{"authToken", h.fake().mint_jwt(team)}});
    ASSERT_FALSE(is_error(token)) << json::serialize(token);
    EXPECT_EQ(sc(token).at("webhookKey").as_string(), "none");
    EXPECT_EQ(stored_key(), "");
    auto both = configure({{"authToken", h.fake().mint_jwt(team)}, {"webhookSecret", kWebhookSecret}});
    EXPECT_EQ(sc(both).at("webhookKey").as_string(), "webhookSecret");
    EXPECT_EQ(stored_key(), kWebhookSecret);
}

TEST_F(WebhookSecret, BadValuesAreRefusedNamingTheFieldAndNothingIsStored) {
    ASSERT_FALSE(is_error(configure({{"clientId", "sync-test-client"}, {"clientSecret", "sync-test-secret"}})));
    const json::object base{{"clientId", "sync-test-client"}, {"clientSecret", "sync-test-secret"}};
    auto with = [&](std::string secret) {
        json::object a = base;
        a["webhookSecret"] = secret;
        return configure(a);
    };
    auto short_one = with("short-secret");
    ASSERT_TRUE(is_error(short_one));
    EXPECT_NE(sc(short_one).at("message").as_string().find("webhookSecret: must be at least 16"), std::string::npos);
    EXPECT_EQ(json::serialize(short_one).find("short-secret"), std::string::npos);
    // The schema validator stops at an embedded NUL; the handler's own rule does not.
    auto nul = with(std::string("0123456789abcdef\0evil", 21));
    ASSERT_TRUE(is_error(nul));
    EXPECT_NE(sc(nul).at("message").as_string().find("webhookSecret: must be printable ASCII"), std::string::npos);
    EXPECT_THROW(with("0123456789abcdef ghi"), std::runtime_error);          // schema: no spaces
    EXPECT_THROW(with("0123456789abcdef\r\nX: y"), std::runtime_error);
    EXPECT_THROW(with(std::string(1025, 'k')), std::runtime_error);          // over the cap
    EXPECT_EQ(stored_key(), "sync-test-secret");                              // the earlier settings stand
}

}  // namespace
}  // namespace rollout_mcp::sync_test
