// Stored Rollout settings the running server no longer accepts: a baseUrl whose origin is not in
// [rollout] allowed_base_urls (the operator shortened the list), or a stored value that breaks a field rule
// (written by an older version). Jobs fail permanently with a message naming the fix, and nothing reaches
// the fake Rollout.
#include "sync_harness.hpp"

#include "server/app/origin.hpp"
#include "server/sync/rollout_field_rules.hpp"
#include "server/tools/rollout_tools.hpp"
#include "storage/sql_storage.hpp"
#include "server/sync/team_rollout.hpp"
#include "server/mcp/tool_registry.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
using storage::JobStatus;

std::size_t rollout_requests(const fake::FakeRollout& f) {
    std::size_t n = 0;
    for (const auto& r : f.requests()) n += r.path.rfind("/_fake", 0) == 0 ? 0 : 1;
    return n;
}

TEST(StoredSettings, BaseUrlNoLongerAllowedFailsJobsPermanently) {
    Harness::Options options;
    options.allowed_base_urls = std::vector<std::string>{"https://rollout.example.com:443"};   // not the fake
    Harness h(options);
    const auto team = h.add_team("shortened-list");
    auto ids = h.enqueue_tour(team, make_tour("T-list", "blist"));
    h.fake().clear_requests();
    h.start();
    auto j = h.wait_finished(team, ids[0]);
    EXPECT_EQ(j.status, JobStatus::failed);
    EXPECT_EQ(j.attempts, 1);   // permanent: not retried
    EXPECT_NE(j.last_error.find("[rollout] allowed_base_urls"), std::string::npos) << j.last_error;
    EXPECT_NE(j.last_error.find("configure_rollout again"), std::string::npos) << j.last_error;
    EXPECT_EQ(rollout_requests(h.fake()), 0u);
}

TEST(StoredSettings, DisallowedEndpointNamesItsOriginAndDefaultsStayAllowed) {
    Harness::Options options;
    options.allowed_base_urls = std::vector<std::string>{};
    Harness h(options);
    RolloutSettings s;
    s.project_env_key = "proj";
    s.endpoints.automation = rollout::RolloutEndpoints::automation_for("proj");
    EXPECT_FALSE(h.team().disallowed_endpoint(s).has_value());   // Rollout's own hosts need no listing
    s.endpoints.crm = "http://127.0.0.1:9/crm/api";
    EXPECT_EQ(h.team().disallowed_endpoint(s), "http://127.0.0.1:9");
    s.endpoints.crm = RolloutSettings{}.endpoints.crm;
    s.endpoints.automation = "https://other.rolloutapp.com/api";   // not the one projectEnvKey names
    EXPECT_EQ(h.team().disallowed_endpoint(s), "https://other.rolloutapp.com:443");
}

TEST(StoredSettings, StoredCredentialKeyWithCrLfIsNeverSent) {
    Harness h;
    const auto team = h.add_team("crlf-credential");
    const std::string bad = "cred-1\r\nX-Evil: 1";
    ASSERT_TRUE(h.on_storage([team, bad](storage::Storage& s) {
        return s.put_crm_connection(team, "highlevel", "highlevel",
                                    {reinterpret_cast<const unsigned char*>(bad.data()), bad.size()});
    }));
    auto ids = h.enqueue_tour(team, make_tour("T-crlf", "bcrlf"));
    h.start();
    auto j = h.wait_finished(team, ids[0]);
    EXPECT_EQ(j.status, JobStatus::failed);
    EXPECT_NE(j.last_error.find("configure_crm_connection again"), std::string::npos) << j.last_error;
    for (const auto& r : h.fake().requests()) EXPECT_EQ(r.path.rfind("/crm/api", 0), std::string::npos) << r.path;
}

TEST(StoredSettings, StoredClientIdThatBreaksItsRuleFailsPermanently) {
    Harness h;
    const auto team = h.add_team("bad-client-id");
    RolloutSettings s;
    s.project_env_key = "sync-test";
    s.client_id = "id\nX-Evil: 1";
    s.endpoints = rollout::RolloutEndpoints::all_at(h.fake().url());
    const std::string text = boost::json::serialize(s.to_json());
    ASSERT_TRUE(h.on_storage([team, text](storage::Storage& st) {
        const std::string secret = "sync-test-secret";
        return st.put_rollout_config(team, text, {reinterpret_cast<const unsigned char*>(secret.data()), secret.size()});
    }));
    auto ids = h.enqueue_tour(team, make_tour("T-cid", "bcid"));
    h.fake().clear_requests();
    h.start();
    auto j = h.wait_finished(team, ids[0]);
    EXPECT_EQ(j.status, JobStatus::failed);
    EXPECT_NE(j.last_error.find("clientId"), std::string::npos) << j.last_error;
    EXPECT_NE(j.last_error.find("configure_rollout again"), std::string::npos) << j.last_error;
    EXPECT_EQ(rollout_requests(h.fake()), 0u);
}

// Start-up (serve calls this before the workers start): one warning per team whose stored baseUrl the
// server no longer allows, naming the team and the origin; none for teams that are fine.
TEST(StoredSettings, StartUpWarnsOncePerDisallowedTeam) {
    Harness::Options options;
    options.allowed_base_urls = std::vector<std::string>{};
    Harness h(options);
    h.add_team("was-allowed-1");
    h.add_team("was-allowed-2");
    testing::internal::CaptureStderr();
    h.on_storage([&h](storage::Storage& s) {
        warn_disallowed_base_urls(s, h.team());
        return 0;
    });
    const std::string err = testing::internal::GetCapturedStderr();
    std::size_t warnings = 0;
    for (auto at = err.find("[rollout] allowed_base_urls"); at != std::string::npos;
         at = err.find("[rollout] allowed_base_urls", at + 1))
        ++warnings;
    EXPECT_EQ(warnings, 2u) << err;
    EXPECT_NE(err.find("was-allowed-1"), std::string::npos) << err;
    EXPECT_NE(err.find(*normalize_origin(h.fake().url())), std::string::npos) << err;

    Harness fine;   // the fake's origin listed: silence
    fine.add_team("still-allowed");
    testing::internal::CaptureStderr();
    fine.on_storage([&fine](storage::Storage& s) {
        warn_disallowed_base_urls(s, fine.team());
        return 0;
    });
    EXPECT_EQ(testing::internal::GetCapturedStderr().find("allowed_base_urls"), std::string::npos);
}

// The real tool schemas compile and their patterns (run by the schema validator, before any handler) refuse
// header-splitting values, and configure_rollout says which credentials it needs.
TEST(StoredSettings, ToolSchemasRefuseHostileArguments) {
    Harness::Options options;
    options.start_fake = false;
    Harness h(options);
    ToolRegistry registry;
    ASSERT_NO_THROW(register_config_tools(registry, h.team()));
    const auto* configure = registry.find("configure_rollout");
    const auto* test = registry.find("test_crm_connection");
    const auto* connect = registry.find("configure_crm_connection");
    ASSERT_TRUE(configure && test && connect);
    auto valid = [&](const ToolDefinition* t, boost::json::object args) {
        return !registry.validate_arguments(*t, args).has_value();
    };
    EXPECT_TRUE(valid(configure, {{"projectEnvKey", "p"}, {"authToken", "a.b.c"}}));
    EXPECT_TRUE(valid(configure, {{"projectEnvKey", "p"}, {"clientId", "id"}, {"clientSecret", "s!"}}));
    EXPECT_FALSE(valid(configure, {{"projectEnvKey", "p"}}));                      // neither credential form
    EXPECT_FALSE(valid(configure, {{"projectEnvKey", "p"}, {"clientId", "id"}}));  // secret missing
    EXPECT_FALSE(valid(configure, {{"projectEnvKey", "p"}, {"authToken", "a.b.c\r\nX-Evil: 1"}}));
    EXPECT_FALSE(valid(configure, {{"projectEnvKey", "p"}, {"authToken", "a.b"}}));
    EXPECT_FALSE(valid(configure, {{"projectEnvKey", "p.evil.example"}, {"authToken", "a.b.c"}}));
    EXPECT_FALSE(valid(configure, {{"projectEnvKey", "p"}, {"clientId", "id\n"}, {"clientSecret", "s"}}));
    EXPECT_FALSE(valid(configure, {{"projectEnvKey", "p"}, {"clientId", "id"}, {"clientSecret", "s s"}}));
    EXPECT_TRUE(valid(test, {{"crmType", "highlevel"}, {"credentialKey", "cred:1"}}));
    EXPECT_FALSE(valid(test, {{"crmType", "highlevel"}, {"credentialKey", "cred\r\nX-Evil: 1"}}));
    // The schema validator (valijson) matches patterns only up to an embedded NUL, so "c\0d" gets past the
    // schema; the handlers' own check (the same rule in C++) refuses it before any use.
    EXPECT_TRUE(field_problem(RolloutField::credential_key, std::string("c\0d", 3)).has_value());
    EXPECT_FALSE(valid(connect, {{"crmType", "highlevel"}, {"credentialKey", std::string(257, 'c')}}));
}

}  // namespace
}  // namespace rollout_mcp::sync_test
