// The cache of opened team settings on the sync path (server/sync/team_config_cache.hpp) against the real store
// and the fake Rollout: a change made behind this process's back (another instance, the admin CLI; here a write
// straight to the store, with no local forget) is used by the very next job, because the claim hands out the
// team's configuration version; and the cache really saves the reads.
#include "sync_harness.hpp"

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

}  // namespace
}  // namespace rollout_mcp::sync_test
