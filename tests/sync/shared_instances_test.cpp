// Several instances on one PostgreSQL database (docs/ARCHITECTURE.md, "Several instances"): a tool call waiting on
// this instance hears of an attempt another instance recorded, through LISTEN/NOTIFY.
#include "sync_harness.hpp"

#include "server/sync/outbox_notifications.hpp"
#include "storage/postgres_listener.hpp"
#include "storage/sql_storage.hpp"

#include <gtest/gtest.h>

#include <future>

namespace rollout_mcp::sync_test {
namespace {

TEST(SharedInstances, AWaiterHearsOfAnAttemptAnotherInstanceRecorded) {
    if (!rollout_mcp::test::testing_postgresql()) GTEST_SKIP() << "several instances share a PostgreSQL database";
    Harness h;
    const auto team = h.add_team("shared");
    const auto ids = h.enqueue_tour(team, make_tour("T-shared", "bshared"));
    // "Another instance" claims the job before this one's worker starts, and finishes it later (the test plays it
    // through the same database; this worker never runs the job: its lease stays live).
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
    auto claimed = h.on_storage([ids, now_ms](storage::Storage& s) { return s.claim_sync_jobs(ids, now_ms, now_ms + 600'000); });
    ASSERT_TRUE(claimed && claimed->size() == 1);
    h.start();
    auto listener = storage::PgListener::start(h.database().url(), [&h](std::string_view channel, std::string_view payload) {
        hear_outbox_notification(h.worker(), channel, payload);
    });
    std::promise<storage::SyncJobInfo> heard;
    auto future = heard.get_future();
    std::once_flag once;
    const auto watch = h.worker().watch(ids, [&](const storage::SyncJobInfo& info) {
        std::call_once(once, [&] { heard.set_value(info); });
    });
    const auto token = claimed->front().claim_token;
    storage::AttemptOutcome done;
    done.result_json = "[]";
    ASSERT_TRUE(h.on_storage([&ids, token, done, now_ms](storage::Storage& s) {
        return s.finish_sync_attempt(ids[0], token, done, now_ms + 1'000);
    }));
    ASSERT_EQ(future.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    const auto info = future.get();
    EXPECT_EQ(info.id, ids[0]);
    EXPECT_EQ(info.status, storage::JobStatus::succeeded);
    EXPECT_EQ(info.attempts, 1);   // this worker never ran it
    h.worker().unwatch(watch);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
