// The cheaper sync path (issue 21) against the real store and the fake Rollout.
// - The cache of opened team settings (server/sync/team_config_cache.hpp): a change made behind this process's
//   back (another instance, the admin CLI; here a write straight to the store, with no local forget) is used by
//   the very next job, because the claim hands out the team's configuration version; and it really saves reads.
// - The sync call's answer comes from its jobs' attempts as reported (no read after), and an idempotent replay,
//   whose attempts were long ago, is answered from the store at once.
#include "sync_harness.hpp"

#include "server/tools/rollout_tools.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
using storage::JobStatus;

TEST(ConfigCacheSync, ACredentialChangedElsewhereIsUsedByTheNextJob) {
    Harness h;
    const auto team = h.add_team("moved-credential");
    h.start();
    auto first = h.enqueue_tour(team, make_tour("T-first", "bmoved"));
    ASSERT_EQ(h.wait_finished(team, first[0]).status, JobStatus::succeeded);
    const std::string old_credential = h.credential(team, "highlevel");
    ASSERT_TRUE(h.team().config_cache().find(team)) << "the first job left the team's settings cached";

    // Another instance reconnects the team to a new credential: only the database knows.
    const std::string moved(h.fake().add_credential("highlevel", team).at("id").as_string());
    ASSERT_TRUE(h.on_storage([&](storage::Storage& s) {
        return s.put_crm_connection(team, "highlevel", "highlevel",
                                    {reinterpret_cast<const unsigned char*>(moved.data()), moved.size()});
    }));
    h.fake().clear_requests();
    auto second = h.enqueue_tour(team, make_tour("T-second", "bmoved2"));
    ASSERT_EQ(h.wait_finished(team, second[0]).status, JobStatus::succeeded);
    std::set<std::string> used;
    for (const auto& r : h.fake().requests())
        if (!r.credential_id.empty()) used.insert(r.credential_id);
    EXPECT_EQ(used, std::set<std::string>{moved}) << "the old credential " << old_credential << " was used";
    EXPECT_FALSE(h.fake().records(moved, "people").empty());
}

TEST(ConfigCacheSync, ARemovedConnectionFailsTheNextJobPermanentlyWithoutAnyCrmCall) {
    Harness h;
    const auto team = h.add_team("removed-connection");
    auto primed = boost::asio::co_spawn(h.io(), h.team().config(team), boost::asio::use_future).get();
    ASSERT_TRUE(primed);
    ASSERT_TRUE((*primed)->connection("highlevel"));
    ASSERT_TRUE(h.team().config_cache().find(team)) << "cached, and confirmed for the next second";
    // Removed behind this process's back, within that second: the job must not run on the cached credential.
    ASSERT_TRUE(h.on_storage([&](storage::Storage& s) { return s.delete_crm_connection(team, "highlevel"); }));
    auto ids = h.enqueue_tour(team, make_tour("T-removed", "bremoved"));
    h.fake().clear_requests();
    h.start();
    auto j = h.wait_finished(team, ids[0]);
    EXPECT_EQ(j.status, JobStatus::failed);
    EXPECT_EQ(j.attempts, 1);
    EXPECT_NE(j.last_error.find("no longer connected"), std::string::npos) << j.last_error;
    for (const auto& r : h.fake().requests()) EXPECT_TRUE(r.credential_id.empty()) << r.path;
}

TEST(ConfigCacheSync, ADamagedCredentialRowStopsThatCrmAloneAndTheTeamsOtherCrmSyncs) {
    Harness h;
    const auto team = h.add_team("damaged-row", {"highlevel", "lofty"});
    // lofty's sealed credential moved onto highlevel's row: it no longer opens there (row-bound sealing).
    h.database().raw()->exec(("UPDATE crm_connections SET"
                              " nonce = (SELECT nonce FROM crm_connections WHERE tenant_id = '" + team + "' AND crm_type = 'lofty'),"
                              " ciphertext = (SELECT ciphertext FROM crm_connections WHERE tenant_id = '" + team +
                              "' AND crm_type = 'lofty') WHERE tenant_id = '" + team + "' AND crm_type = 'highlevel'").c_str());
    auto ids = h.enqueue_tour(team, make_tour("T-damaged", "bdamaged"), {"highlevel", "lofty"});
    h.start();
    auto broken = h.wait_finished(team, ids[0]);
    auto fine = h.wait_finished(team, ids[1]);
    EXPECT_EQ(broken.crm_type, "highlevel");
    EXPECT_EQ(broken.status, JobStatus::failed);
    EXPECT_NE(broken.last_error.find("cannot open the CRM connection"), std::string::npos) << broken.last_error;
    EXPECT_EQ(fine.status, JobStatus::succeeded) << fine.last_error;
}

TEST(ConfigCacheSync, ManyToursOfOneTeamReadItsSettingsOnce) {
    Harness h;
    const auto team = h.add_team("read-once");
    h.start();
    std::shared_ptr<const TeamConfig> first;
    for (int i = 0; i < 6; ++i) {
        auto one = h.enqueue_tour(team, make_tour("T-once-" + std::to_string(i), "bonce" + std::to_string(i)));
        ASSERT_EQ(h.wait_finished(team, one[0]).status, JobStatus::succeeded);
        auto cached = h.team().config_cache().find(team);
        ASSERT_TRUE(cached);
        if (i == 0) first = cached;
        else EXPECT_EQ(first.get(), cached.get()) << "tour " << i << " read the settings again";
    }
}

TEST(SyncCallAnswer, AnIdempotentReplayIsAnsweredAtOnceWithTheFirstCallsResults) {
    Harness h;
    const auto team = h.add_team("replay-answer");
    ToolRegistry tools;
    register_sync_tools(tools, SyncToolsDeps{&h.team(), &h.worker(), std::chrono::seconds(30)});
    h.start();
    boost::json::object args{{"tourData", make_tour("T-replay", "breplay")}, {"idempotencyKey", "replay-1"}};
    const auto first = call_tool(h, tools, team, "sync_tour_data", args);
    const auto& one = first.at("structuredContent").as_object();
    ASSERT_EQ(one.at("status"), "success") << boost::json::serialize(first);
    EXPECT_FALSE(one.at("replayed").as_bool());

    const auto started = std::chrono::steady_clock::now();
    const auto again = call_tool(h, tools, team, "sync_tour_data", args);
    const auto took = std::chrono::steady_clock::now() - started;
    const auto& two = again.at("structuredContent").as_object();
    EXPECT_TRUE(two.at("replayed").as_bool());
    EXPECT_EQ(two.at("status"), "success") << boost::json::serialize(again);
    EXPECT_EQ(two.at("results"), one.at("results"));
    // No attempt will ever be announced for these jobs: waiting for one (or for the 2 s catch-up read) is the bug.
    EXPECT_LT(took, std::chrono::milliseconds(1500));
}

}  // namespace
}  // namespace rollout_mcp::sync_test
