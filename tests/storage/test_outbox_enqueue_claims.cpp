// Claims made with the enqueue (README "Sync path CPU"): a job the accepting instance can start now is claimed in
// the enqueue's own transaction under claim_sync_jobs' rules (fencing token, tour and buyer locks, running caps),
// never before a job of its team that is claimable now, never on a replay; one it cannot claim stays queued.
// Requests accepted together (enqueue_syncs) are each enqueued as if alone.
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
    // The same tour, the same buyer on another tour, then another CRM: the first two are refused.
    auto same_tour = store->enqueue_sync(request(a, {claimed("T3", "B9")}), 2'000);
    auto same_buyer = store->enqueue_sync(request(a, {claimed("T4", "B3")}), 2'000);
    auto other_crm = store->enqueue_sync(request(a, {claimed("T3", "B3", "pipedrive")}), 2'000);
    ASSERT_TRUE(same_tour && same_buyer && other_crm);
    EXPECT_TRUE(same_tour->claimed.empty());
    EXPECT_TRUE(same_buyer->claimed.empty());
    EXPECT_EQ(other_crm->claimed.size(), 1u) << "the queued jobs wait for T3's claim, not for a place";
    EXPECT_EQ(status_of(a, same_tour->job_ids.front()), JobStatus::queued);
    EXPECT_EQ(status_of(a, same_buyer->job_ids.front()), JobStatus::queued);
}

TEST_F(EnqueueClaims, ADueJobOfTheTeamGoesFirstInTheSchedulersOrder) {
    // A job of team a is due, nothing holds it back, and the scheduler has not reached it yet: a new job of a waits
    // behind it (it might need the same tour, buyer or place under the team's caps), whatever its tour.
    const auto first = enqueue(a, {NewSyncJob{"hubspot", "tour", "T5", "T5", "B5", R"({"v":1})"}}, 1'000);
    auto later = store->enqueue_sync(request(a, {claimed("T5", "B5")}, R"({"v":2})"), 2'000);
    auto unrelated = store->enqueue_sync(request(a, {claimed("T6", "B6", "pipedrive")}), 2'000);
    ASSERT_TRUE(later && unrelated);
    EXPECT_TRUE(later->claimed.empty()) << "the older job of the tour is due";
    EXPECT_TRUE(unrelated->claimed.empty()) << "a due job of the team goes first";
    auto due = store->due_sync_jobs(2'000, 8, 64);
    ASSERT_EQ(due->size(), 3u);
    EXPECT_EQ(due->front().id, first.front()) << "the scheduler offers the oldest first";
    // Another team is not held back.
    auto other_team = store->enqueue_sync(request(b, {claimed("T5", "B5")}), 2'000);
    ASSERT_TRUE(other_team);
    EXPECT_EQ(other_team->claimed.size(), 1u);
}

TEST_F(EnqueueClaims, AJobWhoseClaimExpiredGoesBeforeANewJobOfItsTeam) {
    // An instance died with T7 claimed: its lease ran out at 5 s, and its recovery must not be overtaken.
    const auto stranded = enqueue(a, {NewSyncJob{"hubspot", "tour", "T7", "T7", "B7", R"({"v":1})"}}, 1'000);
    ASSERT_EQ(store->claim_sync_jobs(stranded, 1'000, 5'000)->size(), 1u);
    auto before_expiry = store->enqueue_sync(request(a, {claimed("T8", "B8")}), 4'000);
    ASSERT_TRUE(before_expiry);
    EXPECT_EQ(before_expiry->claimed.size(), 1u) << "a live claim holds back only its own tour and buyer";
    auto after_expiry = store->enqueue_sync(request(a, {claimed("T7", "B7")}, R"({"v":2})"), 6'000);
    ASSERT_TRUE(after_expiry);
    EXPECT_TRUE(after_expiry->claimed.empty());
    auto again = store->claim_sync_jobs(stranded, 6'000, 600'000);
    ASSERT_EQ(again->size(), 1u) << "the stranded job is claimed again first";
    EXPECT_TRUE(again->front().info.recover);
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

TEST_F(EnqueueClaims, TheCrmCapCountsClaimsMadeWithTheEnqueueAndOnlyInThatCrm) {
    StorageLimits limits;
    limits.max_running_per_crm = 1;
    store->set_limits(limits);
    auto first = store->enqueue_sync(request(a, {claimed("T10", "B10")}), 1'000);
    auto other_crm = store->enqueue_sync(request(a, {claimed("T12", "B12", "pipedrive")}), 1'000);
    auto second = store->enqueue_sync(request(a, {claimed("T11", "B11")}), 1'000);
    ASSERT_TRUE(first && second && other_crm);
    EXPECT_EQ(first->claimed.size(), 1u);
    EXPECT_EQ(other_crm->claimed.size(), 1u) << "pipedrive has a place of its own";
    EXPECT_TRUE(second->claimed.empty()) << "hubspot's one place is taken";
    EXPECT_EQ(status_of(a, second->job_ids.front()), JobStatus::queued);
    // The queued hubspot job now waits only for a place: it goes before any new job of the team, in any CRM.
    auto later = store->enqueue_sync(request(a, {claimed("T17", "B17", "pipedrive")}), 1'000);
    ASSERT_TRUE(later);
    EXPECT_TRUE(later->claimed.empty());
}

TEST_F(EnqueueClaims, JobsOfOneRequestSharingATourOrABuyerAreNotClaimedTogether) {
    // The first job's claim holds its tour and its buyer; the request's later jobs see it as any claim would.
    auto same_tour = claimed("T13", "B14");
    same_tour.subject = "T13/visit";
    auto r = store->enqueue_sync(request(a, {claimed("T13", "B13"), same_tour, claimed("T15", "B13"),
                                             claimed("T16", "B16")}),
                                 1'000);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->claimed.size(), 2u);
    EXPECT_EQ(r->claimed[0].info.id, r->job_ids[0]);
    EXPECT_EQ(r->claimed[1].info.id, r->job_ids[3]) << "a job of another tour and buyer is not held back";
    EXPECT_EQ(status_of(a, r->job_ids[1]), JobStatus::queued);
    EXPECT_EQ(status_of(a, r->job_ids[2]), JobStatus::queued);
    for (const ClaimedJob& job : r->claimed) {
        EXPECT_EQ(job.claim_token, 1);
        EXPECT_EQ(job.info.attempts, 1);
    }
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


TEST_F(EnqueueClaims, RequestsAcceptedTogetherAreEachEnqueuedAsIfAlone) {
    // The database refuses the second job of one request half-way: that request alone leaves nothing.
    exec_raw(on_postgresql()
                 ? "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                   " IF NEW.subject = 'poison' THEN RAISE EXCEPTION 'poison job'; END IF; RETURN NEW; END $$;"
                   " CREATE TRIGGER refuse_poison BEFORE INSERT ON sync_jobs FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                 : "CREATE TRIGGER refuse_poison BEFORE INSERT ON sync_jobs WHEN NEW.subject = 'poison'"
                   " BEGIN SELECT RAISE(ABORT, 'poison job'); END");
    std::vector<SyncRequest> batch;
    batch.push_back(request(a, {claimed("T10", "B10")}));                      // fine, claimed
    batch.push_back(request(a, {claimed("T11", "B11"), claimed("poison", "B12", "pipedrive")}));   // refused half-way
    batch.push_back(request(b, {NewSyncJob{"hubspot", "bogus", "T13", "T13", "B13", "{}"}}));        // invalid kind
    auto keyed = request(b, {claimed("T14", "B14")});
    keyed.idempotency_key = "k-14";
    keyed.args_hash = hash(14);
    batch.push_back(keyed);
    batch.push_back(keyed);                                                     // the same call again: a replay
    batch.push_back(request(a, {claimed("T10", "B15")}));                       // T10 is running: queued
    auto results = store->enqueue_syncs(batch, 1'000);
    ASSERT_EQ(results.size(), 6u);
    ASSERT_TRUE(results[0]) << results[0].error().message;
    EXPECT_EQ(results[0]->claimed.size(), 1u);
    EXPECT_FALSE(results[1]) << "the database refused its second job";
    ASSERT_FALSE(results[2]);
    EXPECT_EQ(results[2].error().code, ErrorCode::invalid_argument);
    ASSERT_TRUE(results[3] && results[4]);
    EXPECT_FALSE(results[3]->replayed);
    EXPECT_TRUE(results[4]->replayed) << "the second sees the first, as if they came one after the other";
    EXPECT_EQ(results[4]->job_ids, results[3]->job_ids);
    EXPECT_TRUE(results[4]->claimed.empty());
    ASSERT_TRUE(results[5]) << results[5].error().message;
    EXPECT_TRUE(results[5]->claimed.empty()) << "its tour is claimed by the first request of the batch";

    EXPECT_TRUE(store->find_sync_jobs(Q().tenant(a.id).tour("T11"))->empty()) << "nothing of the refused request";
    EXPECT_TRUE(store->find_sync_jobs(Q().tenant(b.id).tour("T13"))->empty());
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(b.id).tour("T14"))->size(), 1u);
    EXPECT_EQ(status_of(a, results[0]->job_ids[0]), JobStatus::running);
    EXPECT_EQ(status_of(a, results[5]->job_ids[0]), JobStatus::queued);
    auto due = store->due_sync_jobs(1'000, 8, 64);   // due at the batch's time, not later: no wait for a poll
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ(due->front().id, results[5]->job_ids[0]);
    EXPECT_TRUE(store->enqueue_syncs({}, 2'000).empty());
}

TEST_F(EnqueueClaims, AJobInBackoffOrWaitingForItsBuyerDoesNotHoldANewOneBack) {
    // T20 failed and retries at 9 s; T21 waits for its buyer's live claim (T22): neither could be claimed now.
    const auto backoff = enqueue(a, {NewSyncJob{"hubspot", "tour", "T20", "T20", "B20", R"({})"}}, 1'000);
    auto c = store->claim_sync_jobs(backoff, 1'000, kLease);
    ASSERT_TRUE(store->finish_sync_attempt(backoff[0], c->front().claim_token, Outcome(Next::retry).at(9'000).error("x"), 1'500));
    const auto live = enqueue(a, {NewSyncJob{"hubspot", "tour", "T22", "T22", "B21", R"({})"}}, 1'000);
    ASSERT_EQ(store->claim_sync_jobs(live, 1'000, kLease)->size(), 1u);
    const auto waits = enqueue(a, {NewSyncJob{"hubspot", "tour", "T21", "T21", "B21", R"({})"}}, 1'000);
    auto fresh = store->enqueue_sync(request(a, {claimed("T23", "B23")}), 2'000);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(fresh->claimed.size(), 1u) << "the scheduler would take it now too";
}

TEST_F(EnqueueClaims, ARefusedRequestInABatchLeavesTheOthersAsIfAlone) {
    StorageLimits limits;
    limits.max_queued_jobs_per_tenant = 2;
    store->set_limits(limits);
    auto keyed = request(a, {claimed("T30", "B30")});
    keyed.idempotency_key = "k-30";
    keyed.args_hash = hash(30);
    auto other_args = keyed;
    other_args.args_hash = hash(31);
    std::vector<SyncRequest> batch{keyed, other_args, request(a, {claimed("T32", "B32")}), request(a, {claimed("T33", "B33")}),
                                   request(b, {claimed("T34", "B34")})};
    auto results = store->enqueue_syncs(batch, 1'000);
    ASSERT_EQ(results.size(), 5u);
    ASSERT_TRUE(results[0]);
    ASSERT_FALSE(results[1]);
    EXPECT_EQ(results[1].error().code, ErrorCode::already_exists) << "the key was used by the first, with other arguments";
    ASSERT_TRUE(results[2]) << "team a's second job fits its cap of 2";
    ASSERT_FALSE(results[3]);
    EXPECT_EQ(results[3].error().code, ErrorCode::limit_exceeded);
    ASSERT_TRUE(results[4]) << "another team's cap is its own";
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id))->size(), 2u);
    // Jobs accepted together keep their arrival order.
    EXPECT_LT(store->find_sync_jobs(Q().tenant(a.id).job(results[0]->job_ids[0]))->front().created_at_ms,
              store->find_sync_jobs(Q().tenant(a.id).job(results[2]->job_ids[0]))->front().created_at_ms);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
