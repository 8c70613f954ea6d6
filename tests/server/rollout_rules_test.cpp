// Base-URL origins and the Rollout field rules: the normalizer's accepted and refused forms, and every
// field's JSON Schema pattern run through an ECMAScript regex next to its C++ check, so the schema a client
// sees and the check on stored values agree on CR, LF, NUL, space, unicode and over-long values.
#include "server/app/origin.hpp"
#include "server/sync/rollout_field_rules.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <regex>

namespace rollout_mcp {
namespace {

TEST(Origin, NormalizesSpellings) {
    EXPECT_EQ(normalize_origin("https://Rollout.Example.com"), "https://rollout.example.com:443");
    EXPECT_EQ(normalize_origin("HTTP://127.0.0.1"), "http://127.0.0.1:80");
    EXPECT_EQ(normalize_origin("http://127.0.0.1:9090/"), "http://127.0.0.1:9090");
    EXPECT_EQ(normalize_origin("http://localhost:09090"), "http://localhost:9090");
    EXPECT_EQ(normalize_origin("http://[::1]:8080"), "http://[::1]:8080");
    EXPECT_EQ(normalize_origin("https://[0:0:0:0:0:0:0:1]"), "https://[::1]:443");
    EXPECT_EQ(normalize_origin("https://[::FFFF:7F00:1]:1"), "https://[::ffff:127.0.0.1]:1");
}

TEST(Origin, RefusesAnythingButAnOrigin) {
    for (const char* s : {"", "127.0.0.1:9090", "//x.example", "ftp://x.example", "https://", "https://:443",
                          "https://x.example/api", "https://x.example//", "https://x.example?", "https://x.example/?q",
                          "https://x.example#", "https://u@x.example", "https://u:p@x.example", "https://x.example:",
                          "https://x.example:0", "https://x.example:65536", "https://x.example:12a",
                          "https://x.example:123456", "https://[::1", "https://[zz]", "https://[::1]x",
                          "https://x..example", "https://.x.example", "https://x.example.", "https://x_y.example",
                          "https://x%2eexample", "https://x.example\r\n", "https://x .example",
                          "https://x.example\t", "https://caf\xc3\xa9.example"})
        EXPECT_FALSE(normalize_origin(s).has_value()) << s;
    EXPECT_FALSE(normalize_origin(std::string_view("https://x.example\0", 18)).has_value());
}

TEST(Origin, OfUrlDropsThePathButNotUserinfo) {
    EXPECT_EQ(origin_of_url("http://127.0.0.1:9090/platform/api"), "http://127.0.0.1:9090");
    EXPECT_EQ(origin_of_url("https://crm.universal.rollout.com/api"), "https://crm.universal.rollout.com:443");
    EXPECT_FALSE(origin_of_url("https://u@x.example/api").has_value());
    EXPECT_FALSE(origin_of_url("https://x.example?/api").has_value());
}

TEST(Origin, TransportPolicy) {
    EXPECT_TRUE(origin_transport_allowed("https://x.example:443"));
    EXPECT_TRUE(origin_transport_allowed("http://127.0.0.1:9090"));
    EXPECT_TRUE(origin_transport_allowed("http://[::1]:9090"));
    EXPECT_TRUE(origin_transport_allowed("http://localhost:9090"));
    EXPECT_FALSE(origin_transport_allowed("http://10.0.0.1:80"));
    EXPECT_FALSE(origin_transport_allowed("http://x.example:80"));
}

bool pattern_accepts(RolloutField f, const std::string& v) {
    const auto& rule = rule_of(f);
    return std::regex_search(v, std::regex(std::string(rule.pattern), std::regex::ECMAScript)) &&
           v.size() <= rule.max_length && !v.empty();
}

void expect_agree(RolloutField f, const std::string& v, bool accepted) {
    const bool check = !field_problem(f, v).has_value();
    EXPECT_EQ(check, accepted) << rule_of(f).name << " C++ check on \"" << v << "\"";
    EXPECT_EQ(pattern_accepts(f, v), accepted) << rule_of(f).name << " pattern on \"" << v << "\"";
}

// Hostile variants of a good value: each must be refused by both the pattern and the check.
void expect_hostile_refused(RolloutField f, const std::string& good) {
    expect_agree(f, good, true);
    for (std::string bad : {good + "\r\nX-Evil: 1", good + "\n", "\r" + good, good + std::string(1, '\0') + "x",
                            good + " x", "caf\xc3\xa9" + good, good + "\xe2\x80\xa8", std::string()})
        expect_agree(f, bad, false);
    expect_agree(f, std::string(rule_of(f).max_length + 1, 'a'), false);
}

TEST(FieldRules, AuthToken) {
    expect_hostile_refused(RolloutField::auth_token, "eyJhbGciOiJIUzUxMiJ9.eyJleHAiOjF9.c2ln-_0");
    for (const char* bad : {"a.b", "a.b.c.d", ".b.c", "a..c", "a.b.", "a.b.c=", "a+b.c.d", "a/b.c.d",
                            "a.b.c\r\n", "a.b.c\r\nX: y"})
        expect_agree(RolloutField::auth_token, bad, false);
    std::string longest = std::string(4000, 'a') + "." + std::string(4000, 'b') + "." + std::string(190, 'c');
    expect_agree(RolloutField::auth_token, longest, true);
    expect_agree(RolloutField::auth_token, longest + "c", false);
}

TEST(FieldRules, ClientId) {
    expect_hostile_refused(RolloutField::client_id, "client.id_1~x-y");
    for (const char* bad : {"a:b", "a/b", "a@b", "a+b"}) expect_agree(RolloutField::client_id, bad, false);
    expect_agree(RolloutField::client_id, std::string(256, 'x'), true);
}

TEST(FieldRules, ClientSecret) {
    expect_hostile_refused(RolloutField::client_secret, "s3cr3t!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\"");
    expect_agree(RolloutField::client_secret, "a\tb", false);
    expect_agree(RolloutField::client_secret, "ab\x7f", false);
    expect_agree(RolloutField::client_secret, std::string(1024, 'x'), true);
}

TEST(FieldRules, WebhookSecret) {
    expect_hostile_refused(RolloutField::webhook_secret, "whsec_0123456789!#$%&'()*+,-./:;<=>?@");
    expect_agree(RolloutField::webhook_secret, std::string(1024, 'x'), true);
}

TEST(FieldRules, ProjectEnvKey) {
    expect_hostile_refused(RolloutField::project_env_key, "my-project_env1");
    for (const char* bad : {"a.b", "a.evil.com", "a/b", "a:1"}) expect_agree(RolloutField::project_env_key, bad, false);
    expect_agree(RolloutField::project_env_key, std::string(63, 'k'), true);
    expect_agree(RolloutField::project_env_key, std::string(64, 'k'), false);
}

TEST(FieldRules, CredentialKey) {
    expect_hostile_refused(RolloutField::credential_key, "cred:abc.123_~-x");
    for (const char* bad : {"a/b", "a@b", "a,b", "a;b"}) expect_agree(RolloutField::credential_key, bad, false);
    expect_agree(RolloutField::credential_key, std::string(256, 'x'), true);
}

TEST(FieldRules, SchemasCarryThePatterns) {
    auto schema = boost::json::parse(R"({"type":"object","properties":{"authToken":{"type":"string","description":"d"},
        "credentialKey":{},"other":{"type":"string"}}})").as_object();
    apply_field_rules(schema);
    const auto& props = schema.at("properties").as_object();
    EXPECT_EQ(props.at("authToken").at("pattern").as_string(), rule_of(RolloutField::auth_token).pattern);
    EXPECT_EQ(props.at("authToken").at("maxLength").to_number<std::size_t>(), 8192u);
    EXPECT_EQ(props.at("authToken").at("description").as_string(), "d");   // kept
    EXPECT_EQ(props.at("credentialKey").at("pattern").as_string(), rule_of(RolloutField::credential_key).pattern);
    EXPECT_FALSE(props.at("other").as_object().contains("pattern"));
}

}  // namespace
}  // namespace rollout_mcp
