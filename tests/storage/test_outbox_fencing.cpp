// Exactly-once in the store: every claim carries a fencing token, so an attempt whose claim was lost (its
// lease expired and the job was claimed again) can neither finish the job nor write the ledger; and a job
// holds every identity it touches, (team, CRM, tour) and (team, CRM, buyer), so a tour's job and the
// feedback jobs of that tour or buyer never run at the same time in one CRM, whatever the scheduler asks.
#include "tests/storage/outbox_fixture.hpp"

#include <map>

namespace rollout_mcp::storage::test {
namespace {

NewSyncJob tour_job(const std::string& tour, const std::string& buyer_lock, const std::string& crm = "hubspot") {
    return NewSyncJob{crm, "tour", tour, tour, buyer_lock, R"({"t":1})"};
}
NewSyncJob feedback_job(const std::string& tour, const std::string& property, const std::string& buyer_lock,
                        const std::string& crm = "hubspot") {
    return NewSyncJob{crm, "feedback", tour + "/" + property + "/" + buyer_lock, tour, buyer_lock, R"({"f":1})"};
}

TEST_F(Outbox, AStaleAttemptCannotFinishAReclaimedJobNorWriteTheLedger) {
    const auto id = enqueue(a, {tour_job("T1", "B1")}, 1'000).front();
    auto first = store->claim_sync_jobs({id}, 1'000, 2'000);   // lease until 2 s
    ASSERT_TRUE(first && first->size() == 1);
    const auto stale_token = first->front().claim_token;
    // The lease expires; another worker (or instance) claims the job again.
    auto second = store->claim_sync_jobs({id}, 3'000, 60'000);
    ASSERT_TRUE(second && second->size() == 1) << "an expired lease is claimable";
    const auto live_token = second->front().claim_token;
    EXPECT_NE(stale_token, live_token);
    EXPECT_TRUE(second->front().info.recover) << "a taken-over claim looks markers up first";

    // The first attempt finishes late: refused, and its ledger rows are not written.
    auto late = store->finish_sync_attempt(
        id, stale_token, Outcome(Next::succeed).ledger({{"person", "B1", "stale-person", {}}}), 4'000);
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().code, ErrorCode::not_found);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).job(id))->front().status, JobStatus::running);
    EXPECT_TRUE(store->sync_ledger(a.id, "hubspot", {"B1"})->empty());

    // The live attempt finishes normally.
    auto done = store->finish_sync_attempt(
        id, live_token, Outcome(Next::succeed).ledger({{"person", "B1", "live-person", {}}}), 5'000);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->status, JobStatus::succeeded);
    auto ledger = store->sync_ledger(a.id, "hubspot", {"B1"});
    ASSERT_EQ(ledger->size(), 1u);
    EXPECT_EQ(ledger->front().external_id, "live-person");
    // A finished job cannot be finished again with either token.
    EXPECT_FALSE(store->finish_sync_attempt(id, live_token, Outcome(Next::fail), 6'000));
}

TEST_F(Outbox, ARequeuedJobFromADeadProcessCannotBeFinishedByItsOldAttempt) {
    const auto id = enqueue(a, {tour_job("T2", "B2")}, 1'000).front();
    auto claimed = store->claim_sync_jobs({id}, 1'000, 600'000);
    ASSERT_TRUE(claimed && claimed->size() == 1);
    const std::int64_t restart = on_postgresql() ? 600'000 : 2'000;   // PostgreSQL waits out the lease
    ASSERT_TRUE(store->requeue_interrupted_sync_jobs(restart));   // the next start
    auto again = store->claim_sync_jobs({id}, restart, restart + 600'000);
    ASSERT_TRUE(again && again->size() == 1);
    EXPECT_FALSE(store->finish_sync_attempt(id, claimed->front().claim_token, Outcome(Next::succeed), 3'000));
    EXPECT_TRUE(store->finish_sync_attempt(id, again->front().claim_token, Outcome(Next::succeed), 3'000));
}

TEST_F(Outbox, ATourAndTheFeedbackOfThatTourNeverRunTogetherInOneCrm) {
    // The tour has no buyer (its lock is the placeholder); the feedback names the buyer: they share the tour.
    const auto ids = enqueue(a, {tour_job("T3", "tour-T3"), feedback_job("T3", "P1", "B3")}, 1'000);
    auto claimed = store->claim_sync_jobs(ids, 1'000, 60'000);
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 1u) << "the second job shares (team, CRM, tour) with the first";
    EXPECT_EQ(claimed->front().info.id, ids[0]);
    // Still blocked while the first runs, in a later claim too.
    EXPECT_TRUE(store->claim_sync_jobs({ids[1]}, 1'500, 60'000)->empty());
    ASSERT_TRUE(store->finish_sync_attempt(ids[0], claimed->front().claim_token, Outcome(Next::succeed), 2'000));
    EXPECT_EQ(store->claim_sync_jobs({ids[1]}, 2'000, 60'000)->size(), 1u);
}

TEST_F(Outbox, JobsSharingTheBuyerButNotTheTourAreSerializedToo) {
    const auto ids = enqueue(a, {tour_job("T4", "B4"), feedback_job("T5", "P1", "B4")}, 1'000);
    EXPECT_EQ(store->claim_sync_jobs(ids, 1'000, 60'000)->size(), 1u);
}

TEST_F(Outbox, OtherCrmsOtherToursAndOtherTeamsRunInParallel) {
    const auto x = enqueue(a, {tour_job("T6", "B6", "hubspot"), tour_job("T6", "B6", "lofty"), tour_job("T7", "B7")}, 1'000);
    const auto y = enqueue(b, {tour_job("T6", "B6", "hubspot")}, 1'000);
    std::vector<std::string> all = x;
    all.insert(all.end(), y.begin(), y.end());
    EXPECT_EQ(store->claim_sync_jobs(all, 1'000, 60'000)->size(), 4u);
}

TEST_F(Outbox, AnExpiredLeaseDoesNotBlockAnotherJobOfTheSameTour) {
    const auto ids = enqueue(a, {tour_job("T8", "B8"), feedback_job("T8", "P1", "B8")}, 1'000);
    ASSERT_EQ(store->claim_sync_jobs({ids[0]}, 1'000, 2'000)->size(), 1u);   // lease until 2 s, then lost
    // After the lease: the first job is claimable again and the second is no longer blocked by a dead claim.
    auto later = store->claim_sync_jobs({ids[1]}, 3'000, 60'000);
    EXPECT_EQ(later->size(), 1u);
}

// Attempts that end together share one commit on SQLite (storage finish_sync_attempts, server/sync/finish_batch.hpp)
// and each is still recorded as if alone, on both engines: a claim lost to a re-claim, a bad outcome, or a write
// the database refuses half-way (a trigger here) changes nothing of that job, the others are recorded with their
// ledger rows, and the results come back in order.
TEST_F(Outbox, AttemptsRecordedTogetherAreEachFencedAlone) {
    const auto ids = enqueue(a, {tour_job("T1", "B1"), tour_job("T2", "B2"), tour_job("T3", "B3"), tour_job("T4", "B4")},
                             1'000);
    auto claimed = store->claim_sync_jobs(ids, 1'000, 2'000);   // leases until 2 s
    ASSERT_TRUE(claimed && claimed->size() == 4);
    std::map<std::string, std::int64_t> token;
    for (const auto& c : *claimed) token[c.info.id] = c.claim_token;
    auto again = store->claim_sync_jobs({ids[2]}, 3'000, 600'000);   // T3's lease expired: claimed anew
    ASSERT_TRUE(again && again->size() == 1);
    exec_raw(on_postgresql()
                 ? "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                   " IF NEW.local_id = 'BAD' THEN RAISE EXCEPTION 'bad row'; END IF; RETURN NEW; END $$;"
                   " CREATE TRIGGER refuse_bad BEFORE INSERT ON sync_ledger FOR EACH ROW EXECUTE FUNCTION refuse_bad()"
                 : "CREATE TRIGGER refuse_bad BEFORE INSERT ON sync_ledger WHEN NEW.local_id = 'BAD'"
                   " BEGIN SELECT RAISE(ABORT, 'bad row'); END");
    std::vector<FinishAttempt> batch;
    batch.push_back({ids[0], token[ids[0]], Outcome(Next::succeed).ledger({{"person", "B1", "p-1", {}}}), 4'000});
    batch.push_back({ids[1], token[ids[1]],
                     Outcome(Next::succeed).ledger({{"person", "B2", "p-2", {}}, {"person", "BAD", "p-x", {}}}), 4'000});
    batch.push_back({ids[2], token[ids[2]], Outcome(Next::succeed).ledger({{"person", "B3", "p-3", {}}}), 4'000});
    batch.push_back({ids[3], token[ids[3]], Outcome(Next::succeed).ledger({{"", "B4", "p-4", {}}}), 4'000});
    batch.push_back({ids[3], token[ids[3]], Outcome(Next::retry).ledger({{"person", "B4", "p-4", {}}}), 4'000});
    auto results = store->finish_sync_attempts(batch);
    ASSERT_EQ(results.size(), 5u);
    ASSERT_TRUE(results[0]) << results[0].error().message;
    EXPECT_EQ(results[0]->status, JobStatus::succeeded);
    EXPECT_FALSE(results[1]) << "the database refused its second ledger row";
    ASSERT_FALSE(results[2]) << "a lost claim";
    EXPECT_EQ(results[2].error().code, ErrorCode::not_found);
    ASSERT_FALSE(results[3]) << "a ledger row without a kind";
    EXPECT_EQ(results[3].error().code, ErrorCode::invalid_argument);
    ASSERT_TRUE(results[4]) << results[4].error().message;
    EXPECT_EQ(results[4]->status, JobStatus::queued);

    const auto t2 = store->find_sync_jobs(Q().tenant(a.id).job(ids[1]))->front();
    EXPECT_EQ(t2.status, JobStatus::running) << "nothing of the refused attempt stays";
    EXPECT_TRUE(store->sync_ledger(a.id, "hubspot", {"B2", "BAD"})->empty());
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).job(ids[2]))->front().status, JobStatus::running);
    EXPECT_TRUE(store->sync_ledger(a.id, "hubspot", {"B3"})->empty()) << "the fenced attempt wrote nothing";
    EXPECT_EQ(store->sync_ledger(a.id, "hubspot", {"B1"})->front().external_id, "p-1");
    EXPECT_EQ(store->sync_ledger(a.id, "hubspot", {"B4"})->front().external_id, "p-4");
    // The live claims still finish.
    EXPECT_TRUE(store->finish_sync_attempt(ids[1], token[ids[1]], Outcome(Next::succeed), 5'000));
    EXPECT_TRUE(store->finish_sync_attempt(ids[2], again->front().claim_token, Outcome(Next::succeed), 5'000));
    EXPECT_TRUE(store->finish_sync_attempts({}).empty());
}

}  // namespace
}  // namespace rollout_mcp::storage::test
