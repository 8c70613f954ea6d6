// /readyz and /metrics report the outbox (issue 5): jobs by status, due jobs and their age, dead jobs; and how
// CRM changes arrive (issue 20).
#include "sync_harness.hpp"

#include "server/app/metrics.hpp"
#include "server/app/readiness.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {

TEST(OutboxReadiness, ReadyzAndMetricsReportTheOutbox) {
    Harness::Options o;
    o.start_fake = false;
    Harness h(o);   // workers not started: the jobs stay queued
    const auto team = h.add_team("readiness");
    h.enqueue_tour(team, make_tour("T-r1", "r1"));
    h.enqueue_tour(team, make_tour("T-r2", "r2"));
    auto dead = h.enqueue_tour(team, make_tour("T-r3", "r3"));
    ASSERT_TRUE(h.on_storage([&](storage::Storage& s) {
        auto claimed = s.claim_sync_jobs(dead, INT64_MAX / 4, INT64_MAX / 2);
        storage::AttemptOutcome died;
        died.next = storage::AttemptOutcome::Next::die;
        died.error = "gave up";
        return s.finish_sync_attempt(dead[0], claimed->front().claim_token, died, INT64_MAX / 4);
    }));
    Readiness readiness;
    h.on_storage([&](storage::Storage& s) {
        readiness.refresh_now(s);
        return 0;
    });
    const auto state = readiness.state();
    EXPECT_EQ(state.at("ready"), true);
    // The kind of master key source only, never a path (the harness's key is an in-memory "test master key").
    EXPECT_EQ(state.at("keys").at("masterKeySource"), "other");
    EXPECT_EQ(boost::json::serialize(state).find(h.dir().string()), std::string::npos);
    const auto& outbox = state.at("outbox").as_object();
    EXPECT_EQ(outbox.at("status"), "dead jobs");
    EXPECT_EQ(outbox.at("queued").as_int64(), 2);
    EXPECT_EQ(outbox.at("due").as_int64(), 2);
    EXPECT_EQ(outbox.at("dead").as_int64(), 1);
    EXPECT_EQ(outbox.at("alertsPending").as_int64(), 1);
    const auto text = metrics::registry().render();
    EXPECT_NE(text.find("rollout_mcp_outbox_jobs{status=\"queued\"} 2"), std::string::npos) << text;
    EXPECT_NE(text.find("rollout_mcp_outbox_jobs{status=\"dead\"} 1"), std::string::npos);
    EXPECT_NE(text.find("rollout_mcp_outbox_due_jobs 2"), std::string::npos);
    EXPECT_NE(text.find("# TYPE rollout_mcp_outbox_oldest_due_seconds gauge"), std::string::npos);
}

TEST(ChangesReadiness, ReadyzSaysHowChangesArriveWithCountsOnly) {
    Harness h;
    const auto team = h.add_team("readiness-changes", {"highlevel", "lofty"});
    ASSERT_TRUE(h.on_storage([&](storage::Storage& s) {
        auto route = s.issue_hook_route(team, "highlevel");
        return route && s.set_hook_subscribed(team, "highlevel", true, 1'000);
    }));
    Readiness readiness;
    const auto read = [&](bool reachable) {
        readiness.set_webhooks_reachable(reachable);
        h.on_storage([&](storage::Storage& s) {
            readiness.refresh_now(s);
            return 0;
        });
        return readiness.state().at("changes").as_object();
    };
    auto changes = read(true);
    EXPECT_EQ(changes.at("mode"), "webhooks");
    EXPECT_FALSE(changes.contains("reason"));
    EXPECT_EQ(changes.at("subscribedConnections").as_int64(), 1);
    EXPECT_EQ(changes.at("polledConnections").as_int64(), 1);
    EXPECT_EQ(changes.at("pendingDeliveries").as_int64(), 0);
    EXPECT_EQ(boost::json::serialize(changes).find(team), std::string::npos) << "no team is named";
    changes = read(false);
    EXPECT_EQ(changes.at("mode"), "polling");
    EXPECT_NE(std::string(changes.at("reason").as_string()).find("public_url"), std::string::npos);
}

TEST(ChangesReadiness, ReadyzCountsTeamsOnAnAuthTokenAndShowsTheEarliestExpiry) {
    Harness h;
    h.add_team("minted");   // clientId + clientSecret: not counted
    for (const auto& [name, ttl] : {std::pair<std::string, long>{"token-day", 86'400}, {"token-month", 30 * 86'400}}) {
        const auto team = h.add_team(name, {});
        const std::string settings = R"({"projectEnvKey":"p","clientId":"","endpoints":{}})";
        const std::string token = h.fake().mint_jwt(team, std::chrono::seconds(ttl));
        ASSERT_TRUE(h.on_storage([&](storage::Storage& s) {
            return s.put_rollout_config(team, settings,
                                        {reinterpret_cast<const unsigned char*>(token.data()), token.size()});
        }));
    }
    Readiness readiness;
    h.on_storage([&](storage::Storage& s) {
        readiness.refresh_now(s);
        return 0;
    });
    const auto tokens = readiness.state().at("authTokens").as_object();
    EXPECT_EQ(tokens.at("teams").as_int64(), 2);
    EXPECT_EQ(tokens.at("expired").as_int64(), 0);
    EXPECT_EQ(tokens.at("expiringWithin7Days").as_int64(), 1);
    EXPECT_TRUE(tokens.contains("earliestExpiry"));
    EXPECT_EQ(boost::json::serialize(tokens).find("token-day"), std::string::npos) << "no team is named";
}

}  // namespace
}  // namespace rollout_mcp::sync_test
