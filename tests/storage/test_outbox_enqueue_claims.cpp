// Claims made with the enqueue (README "Sync path CPU"): a job the accepting instance can start now is claimed in
// the enqueue's own transaction under claim_sync_jobs' rules (fencing token, tour and buyer locks, running caps),
// never before an older queued job of its tour or buyer, never on a replay; one it cannot claim stays queued.
#include "tests/storage/outbox_fixture.hpp"

namespace rollout_mcp::storage::test {
namespace {

constexpr std::int64_t kLease = 600'000;

class EnqueueClaims : public Outbox {
protected:
    static NewSyncJob claimed(const std::string& tour, const std::string& buyer, const std::string& crm = "hubspot") {
        NewSyncJob j{crm, "tour", tour, tour, buyer, std::string()};
        j.claim = true;
        return j;
    }
    static SyncRequest request(const Tenant& t, std::vector<NewSyncJob> jobs, std::string payload = R"({"tour":"x"})") {
        SyncRequest r{t.id, std::nullopt, {}, std::move(jobs)};
        r.payload_json = std::move(payload);
        r.claim_lease_until_ms = kLease;
        return r;
    }
    JobStatus status_of(const Tenant& t, const std::string& id) {
        return store->find_sync_jobs(Q().tenant(t.id).job(id))->front().status;
    }
};

TEST_F(EnqueueClaims, AClaimedJobIsRunningWithItsTokenPayloadAndTeamVersionAndFinishesNormally) {
    auto r = store->enqueue_sync(request(a, {claimed("T1", "B1")}, R"({"tour":"T1","client":"Ana"})"), 1'000);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->claimed.size(), 1u);
    const ClaimedJob& job = r->claimed.front();
    EXPECT_EQ(job.info.id, r->job_ids.front());
    EXPECT_EQ(job.info.status, JobStatus::running);
    EXPECT_EQ(job.info.attempts, 1);
    EXPECT_FALSE(job.info.recover);
    EXPECT_EQ(job.payload.text(), R"({"tour":"T1","client":"Ana"})");
    EXPECT_EQ(job.config_version, store->get_team_config(a.id)->version);
    EXPECT_EQ(status_of(a, job.info.id), JobStatus::running);
    // Not offered to the scheduler: it is not due, and another claim cannot take it while the lease lives.
    EXPECT_TRUE(store->due_sync_jobs(2'000, 8, 64)->empty());
    EXPECT_TRUE(store->claim_sync_jobs({job.info.id}, 2'000, kLease)->empty());
    auto done = store->finish_sync_attempt(job.info.id, job.claim_token, Outcome(Next::succeed), 3'000);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->status, JobStatus::succeeded);
}

TEST_F(EnqueueClaims, OnlyTheJobsAskedForAreClaimedAndTheRestAreQueuedForTheScheduler) {
    auto second = claimed("T2", "B2", "pipedrive");
    second.claim = false;
    auto r = store->enqueue_sync(request(a, {claimed("T2", "B2"), second}), 1'000);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->claimed.size(), 1u);
    EXPECT_EQ(r->claimed.front().info.id, r->job_ids[0]);
    EXPECT_EQ(status_of(a, r->job_ids[1]), JobStatus::queued);
    auto due = store->due_sync_jobs(1'000, 8, 64);
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ(due->front().id, r->job_ids[1]);
}

TEST_F(EnqueueClaims, ALiveClaimOnTheTourOrTheBuyerLeavesTheNewJobQueued) {
    const auto running = enqueue(a, {NewSyncJob{"hubspot", "tour", "T3", "T3", "B3", R"({})"}}, 1'000);
    ASSERT_EQ(store->claim_sync_jobs(running, 1'000, kLease)->size(), 1u);
    // The same tour, then the same buyer on another tour: both refused; another CRM is free.
    auto same_tour = store->enqueue_sync(request(a, {claimed("T3", "B9")}), 2'000);
    auto same_buyer = store->enqueue_sync(request(a, {claimed("T4", "B3")}), 2'000);
    auto other_crm = store->enqueue_sync(request(a, {claimed("T3", "B3", "pipedrive")}), 2'000);
    ASSERT_TRUE(same_tour && same_buyer && other_crm);
    EXPECT_TRUE(same_tour->claimed.empty());
    EXPECT_TRUE(same_buyer->claimed.empty());
    EXPECT_EQ(other_crm->claimed.size(), 1u);
    EXPECT_EQ(status_of(a, same_tour->job_ids.front()), JobStatus::queued);
    EXPECT_EQ(status_of(a, same_buyer->job_ids.front()), JobStatus::queued);
}

TEST_F(EnqueueClaims, AnOlderQueuedJobOfTheTourRunsFirstSoALaterSyncIsNeverOvertaken) {
    // The first sync of T5 is queued and the scheduler has not reached it yet: the second must not run before it.
    const auto first = enqueue(a, {NewSyncJob{"hubspot", "tour", "T5", "T5", "B5", R"({"v":1})"}}, 1'000);
    auto later = store->enqueue_sync(request(a, {claimed("T5", "B5")}, R"({"v":2})"), 2'000);
    ASSERT_TRUE(later);
    EXPECT_TRUE(later->claimed.empty()) << "the older job of the tour is still queued";
    auto due = store->due_sync_jobs(2'000, 8, 64);
    ASSERT_EQ(due->size(), 2u);
    EXPECT_EQ(due->front().id, first.front()) << "the scheduler offers the older one first";
    // Another team's job of a tour with the same name is not held back.
    auto other_team = store->enqueue_sync(request(b, {claimed("T5", "B5")}), 2'000);
    ASSERT_TRUE(other_team);
    EXPECT_EQ(other_team->claimed.size(), 1u);
}

TEST_F(EnqueueClaims, TheRunningCapsCountClaimsMadeWithTheEnqueue) {
    StorageLimits limits;
    limits.max_running_per_tenant = 2;
    store->set_limits(limits);
    int claimed_jobs = 0;
    for (int i = 0; i < 4; ++i) {
        const auto n = std::to_string(i);
        auto r = store->enqueue_sync(request(a, {claimed("T6-" + n, "B6-" + n)}), 1'000);
        ASSERT_TRUE(r) << r.error().message;
        claimed_jobs += static_cast<int>(r->claimed.size());
    }
    EXPECT_EQ(claimed_jobs, 2);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).status(JobStatus::queued))->size(), 2u);
    EXPECT_TRUE(store->claim_sync_jobs({store->due_sync_jobs(1'000, 8, 64)->front().id}, 1'000, kLease)->empty())
        << "a scan's claim sees the two live claims too";
}

TEST_F(EnqueueClaims, AReplayClaimsNothingAndARefusedEnqueueLeavesNothing) {
    auto first = request(a, {claimed("T7", "B7")});
    first.idempotency_key = "k-7";
    first.args_hash = hash(7);
    auto r1 = store->enqueue_sync(first, 1'000);
    ASSERT_TRUE(r1);
    ASSERT_EQ(r1->claimed.size(), 1u);
    ASSERT_TRUE(store->finish_sync_attempt(r1->job_ids[0], r1->claimed[0].claim_token,
                                           Outcome(Next::retry).at(1'500).error("boom"), 1'200));
    auto r2 = store->enqueue_sync(first, 2'000);
    ASSERT_TRUE(r2);
    EXPECT_TRUE(r2->replayed);
    EXPECT_TRUE(r2->claimed.empty()) << "a replay writes nothing, so it claims nothing";
    EXPECT_EQ(status_of(a, r1->job_ids[0]), JobStatus::queued);

    StorageLimits limits;
    limits.max_queued_jobs_per_tenant = 1;
    store->set_limits(limits);
    auto refused = store->enqueue_sync(request(a, {claimed("T8", "B8")}), 3'000);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::limit_exceeded);
    EXPECT_TRUE(store->find_sync_jobs(Q().tenant(a.id).tour("T8"))->empty());
}

}  // namespace
}  // namespace rollout_mcp::storage::test
