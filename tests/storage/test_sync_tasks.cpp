// Tasks over sync jobs: created over a team's own jobs only, found only by their team, cancellation that
// touches only jobs no worker has started, trace context kept on jobs, and purge with the idempotency keys.
#include "tests/storage/outbox_fixture.hpp"

#include <gtest/gtest.h>

namespace rollout_mcp::storage::test {
namespace {

class SyncTasks : public Outbox {
protected:
    SyncTask task(const Tenant& t, std::string id, std::vector<std::string> jobs) {
        SyncTask out;
        out.id = std::move(id);
        out.tenant_id = t.id;
        out.job_ids = std::move(jobs);
        out.context_json = R"({"what":"tour T1"})";
        out.created_at_ms = 1'000;
        return out;
    }
    static constexpr const char* kId = "task_0123456789abcdef0123456789abcdef";
};

TEST_F(SyncTasks, CreatedOverOwnJobsAndFoundOnlyByItsTeam) {
    auto ids = enqueue(a, {job("T1", "hubspot"), job("T1", "lofty")}, 1'000);
    ASSERT_TRUE(store->create_sync_task(task(a, kId, ids)));
    auto found = store->find_sync_task(a.id, kId);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found->job_ids, ids);
    EXPECT_EQ(found->context_json, R"({"what":"tour T1"})");
    EXPECT_FALSE(found->cancel_requested);
    // Another team gets the same answer as for an id that does not exist.
    auto other = store->find_sync_task(b.id, kId);
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, ErrorCode::not_found);
    EXPECT_EQ(store->find_sync_task(a.id, "task_ffffffffffffffffffffffffffffffff").error().code, ErrorCode::not_found);
    EXPECT_EQ(store->cancel_sync_task(b.id, kId, 2'000).error().code, ErrorCode::not_found);
    // The id is unique.
    EXPECT_FALSE(store->create_sync_task(task(a, kId, ids)));
}

TEST_F(SyncTasks, RefusesAnotherTeamsJobsShortIdsAndNoJobs) {
    auto theirs = enqueue(b, {job("T9")}, 1'000);
    auto made = store->create_sync_task(task(a, kId, theirs));
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code, ErrorCode::invalid_argument);
    EXPECT_FALSE(store->create_sync_task(task(a, "task_short", enqueue(a, {job("T1")}, 1'000))));
    EXPECT_FALSE(store->create_sync_task(task(a, kId, {})));
    EXPECT_FALSE(store->create_sync_task(task(a, kId, {"job_x' OR 1=1"})));
}

TEST_F(SyncTasks, CancelFailsOnlyJobsNoWorkerStarted) {
    auto ids = enqueue(a, {job("T1", "hubspot"), job("T1", "lofty"), job("T1", "gohighlevel")}, 1'000);
    ASSERT_TRUE(store->create_sync_task(task(a, kId, ids)));
    // ids[0] is running (claimed), ids[1] retrying (one failed attempt), ids[2] never started.
    auto claim = store->claim_sync_jobs({ids[0]}, 2'000, 60'000);
    ASSERT_TRUE(claim && claim->size() == 1);
    auto c1 = store->claim_sync_jobs({ids[1]}, 2'000, 60'000);
    ASSERT_TRUE(c1 && c1->size() == 1);
    ASSERT_TRUE(store->finish_sync_attempt(ids[1], c1->front().claim_token, Outcome(Next::retry).at(3'000), 2'000));
    auto cancelled = store->cancel_sync_task(a.id, kId, 2'500);
    ASSERT_TRUE(cancelled) << cancelled.error().message;
    EXPECT_TRUE(cancelled->cancel_requested);
    auto jobs = store->find_sync_jobs(Q().tenant(a.id).tour("T1"));
    ASSERT_TRUE(jobs);
    for (const auto& j : *jobs) {
        if (j.id == ids[0]) {
            EXPECT_EQ(j.status, JobStatus::running);
        } else if (j.id == ids[1]) {
            EXPECT_EQ(j.status, JobStatus::queued);
        } else if (j.id == ids[2]) {
            EXPECT_EQ(j.status, JobStatus::failed);
            EXPECT_NE(j.last_error.find("cancelled"), std::string::npos);
            EXPECT_EQ(j.finished_at_ms, 2'500);
        }
    }
    // A cancelled job is no longer offered to workers, and the running claim still finishes normally.
    auto due = store->due_sync_jobs(10'000, 10, 10);
    ASSERT_TRUE(due);
    for (const auto& d : *due) EXPECT_NE(d.id, ids[2]);
    EXPECT_TRUE(store->finish_sync_attempt(ids[0], claim->front().claim_token, Outcome(Next::succeed), 3'000));
    EXPECT_TRUE(store->find_sync_task(a.id, kId)->cancel_requested);
}

TEST_F(SyncTasks, CancelNeverTouchesAJobThatWasClaimedBeforeARetry) {
    auto ids = enqueue(a, {job("T1")}, 1'000);
    ASSERT_TRUE(store->create_sync_task(task(a, kId, ids)));
    settle(ids[0], Next::fail, 2'000);   // claimed, wrote (maybe), failed
    ASSERT_TRUE(store->retry_sync_jobs(Q().tenant(a.id).job(ids[0]), 3'000));   // attempts back to 0
    ASSERT_TRUE(store->cancel_sync_task(a.id, kId, 4'000));
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).job(ids[0]))->front().status, JobStatus::queued);
}

TEST_F(SyncTasks, AFrozenOutcomeStaysAndFrozenTasksAreNotOpen) {
    auto ids = enqueue(a, {job("T1"), job("T2")}, 1'000);
    ASSERT_TRUE(store->create_sync_task(task(a, kId, ids)));
    auto open = store->open_sync_tasks_with_jobs(a.id, {ids[1]});
    ASSERT_TRUE(open);
    ASSERT_EQ(open->size(), 1u);
    EXPECT_TRUE(store->open_sync_tasks_with_jobs(b.id, {ids[1]})->empty()) << "another team's view";
    ASSERT_TRUE(store->freeze_sync_task(a.id, kId, "completed", R"({"content":[]})", 5'000));
    ASSERT_TRUE(store->freeze_sync_task(a.id, kId, "failed", R"({"code":1})", 6'000));   // no effect
    auto t = store->find_sync_task(a.id, kId);
    EXPECT_EQ(t->final_status, "completed");
    EXPECT_NE(t->final_result.find("content"), std::string::npos);
    EXPECT_EQ(t->finished_at_ms, 5'000);
    EXPECT_TRUE(store->open_sync_tasks_with_jobs(a.id, {ids[0], ids[1]})->empty());
    EXPECT_FALSE(store->open_sync_tasks_with_jobs(a.id, {"job_x' OR 1=1"}));
}

TEST_F(SyncTasks, TraceContextIsStoredWithTheJobs) {
    SyncRequest r{a.id, std::nullopt, {}, {job("T1")}};
    r.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    r.tracestate = "congo=t61rcWkgMzE";
    auto made = store->enqueue_sync(r, 1'000);
    ASSERT_TRUE(made);
    auto claimed = store->claim_sync_jobs(made->job_ids, 1'000, 60'000);
    ASSERT_TRUE(claimed && claimed->size() == 1);
    EXPECT_EQ(claimed->front().info.traceparent, r.traceparent);
    EXPECT_EQ(claimed->front().info.tracestate, r.tracestate);
    auto plain = enqueue(a, {job("T2")}, 1'000);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).job(plain[0]))->front().traceparent, "");
}

TEST_F(SyncTasks, PurgedWithTheIdempotencyKeys) {
    auto ids = enqueue(a, {job("T1")}, 1'000);
    ASSERT_TRUE(store->create_sync_task(task(a, kId, ids)));
    PurgePolicy keep;
    keep.requests_before_ms = 500;
    ASSERT_TRUE(store->purge_sync_batch(keep, 10'000, 100));
    EXPECT_TRUE(store->find_sync_task(a.id, kId));
    PurgePolicy drop;
    drop.requests_before_ms = 2'000;
    ASSERT_TRUE(store->purge_sync_batch(drop, 10'000, 100));
    EXPECT_EQ(store->find_sync_task(a.id, kId).error().code, ErrorCode::not_found);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
