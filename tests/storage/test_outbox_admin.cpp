// The sync outbox's operator side in SQLite: restart re-drive, retries, statistics, dead-job alerts,
// purging, tenant isolation, and data-key rotation over job payloads.
#include "storage/migrations.hpp"
#include "tests/storage/outbox_fixture.hpp"


namespace rollout_mcp::storage::test {
namespace {

TEST_F(Outbox, RequeueInterruptedJobsSetsRecover) {
    const auto ids = enqueue(a, {job("t1"), job("t2"), job("t3")}, 1'000);
    ASSERT_EQ(store->claim_sync_jobs({ids[0], ids[1]}, 1'000, 100'000)->size(), 2u);
    store.reset();  // "crash": the leases are still far in the future
    store = open_store();

    // SQLite has one server: whatever runs at its start was left by its previous life. On PostgreSQL a running
    // job may be another live instance's, so only an expired lease is taken back.
    std::int64_t restart = 2'000;
    if (on_postgresql()) {
        EXPECT_EQ(*store->requeue_interrupted_sync_jobs(restart), 0u);
        restart = 100'000;
    }
    auto n = store->requeue_interrupted_sync_jobs(restart);
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(*n, 2u);
    for (const auto& id : {ids[0], ids[1]}) {
        const SyncJobInfo j = store->find_sync_jobs(Q().job(id))->front();
        EXPECT_EQ(j.status, JobStatus::queued);
        EXPECT_EQ(j.next_attempt_at_ms, restart);
        EXPECT_TRUE(j.recover);
        EXPECT_EQ(j.attempts, 1);
    }
    EXPECT_FALSE(store->find_sync_jobs(Q().job(ids[2]))->front().recover);
    EXPECT_EQ(store->due_sync_jobs(restart, 10, 10)->size(), 3u);
    EXPECT_EQ(*store->requeue_interrupted_sync_jobs(restart + 1'000), 0u);
}

TEST_F(Outbox, RetryRequeuesFailedAndDeadJobs) {
    const auto ids = enqueue(a, {job("t1"), job("t2"), job("t3"), job("t4")}, 1'000);
    // t2 dies after an uncertain attempt: its recover flag must survive the manual retry.
    ASSERT_EQ(store->claim_sync_jobs({ids[1]}, 1'000, 2'000)->size(), 1u);
    ASSERT_TRUE(store->claim_sync_jobs({ids[1]}, 2'000, 3'000)->front().info.recover);
    ASSERT_TRUE(store->finish_sync_attempt(ids[1], 2, Outcome(Next::die).error("gave up"), 2'500));
    settle(ids[0], Next::fail, 2'000);
    settle(ids[2], Next::succeed, 2'000);
    ASSERT_EQ(store->outbox_stats(3'000)->alerts_pending, 1);

    auto retried = store->retry_sync_jobs(Q().tenant(a.id).status(JobStatus::succeeded), 10'000);
    ASSERT_TRUE(retried) << retried.error().message;
    ASSERT_EQ(retried->size(), 2u);  // the status filter is ignored; only failed/dead jobs move
    for (const SyncJobInfo& j : *retried) {
        EXPECT_EQ(j.status, JobStatus::queued);
        EXPECT_EQ(j.attempts, 0);
        EXPECT_EQ(j.next_attempt_at_ms, 10'000);
        EXPECT_FALSE(j.finished_at_ms);
        EXPECT_EQ(j.recover, j.id == ids[1]);
    }
    EXPECT_EQ(store->outbox_stats(10'000)->alerts_pending, 0);
    EXPECT_TRUE(store->pending_alerts(10'000, 10)->empty());
    EXPECT_EQ(store->find_sync_jobs(Q().job(ids[2]))->front().status, JobStatus::succeeded);
    EXPECT_TRUE(store->retry_sync_jobs(Q().tenant(a.id), 11'000)->empty());

    // Narrow filters: one subject only.
    settle(ids[3], Next::fail, 12'000);
    settle(ids[0], Next::fail, 12'000);
    auto one = store->retry_sync_jobs(Q().tenant(a.id).subject("t4"), 13'000);
    ASSERT_TRUE(one);
    ASSERT_EQ(one->size(), 1u);
    EXPECT_EQ(one->front().id, ids[3]);
    EXPECT_EQ(store->find_sync_jobs(Q().job(ids[0]))->front().status, JobStatus::failed);
}

TEST_F(Outbox, TenantsNeverSeeEachOthersJobs) {
    const auto ja = enqueue(a, {job("tour-1")}, 1'000);
    const auto jb = enqueue(b, {job("tour-1")}, 1'000);
    settle(ja[0], Next::fail, 2'000);
    settle(jb[0], Next::fail, 2'000);

    const auto a_jobs = store->find_sync_jobs(Q().tenant(a.id).tour("tour-1"));
    ASSERT_TRUE(a_jobs);
    ASSERT_EQ(a_jobs->size(), 1u);
    EXPECT_EQ(a_jobs->front().id, ja[0]);
    EXPECT_TRUE(store->find_sync_jobs(Q().tenant(a.id).job(jb[0]))->empty());

    EXPECT_TRUE(store->retry_sync_jobs(Q().tenant(a.id).job(jb[0]), 3'000)->empty());
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(b.id))->front().status, JobStatus::failed);
    auto retried = store->retry_sync_jobs(Q().tenant(a.id), 3'000);
    ASSERT_TRUE(retried);
    ASSERT_EQ(retried->size(), 1u);
    EXPECT_EQ(retried->front().tenant_id, a.id);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(b.id))->front().status, JobStatus::failed);
}

TEST_F(Outbox, StatsCountEveryState) {
    EXPECT_EQ(store->outbox_stats(0)->queued, 0);
    const auto ids = enqueue(a, {job("t1"), job("t2"), job("t3"), job("t4"), job("t5")}, 1'000);
    enqueue(b, {job("t6")}, 1'500);
    enqueue(b, {job("t7")}, 50'000);  // queued, not due
    settle(ids[0], Next::succeed, 2'000);
    settle(ids[1], Next::fail, 2'000);
    settle(ids[2], Next::die, 2'000);
    ASSERT_EQ(store->claim_sync_jobs({ids[3]}, 2'000, 60'000)->size(), 1u);

    auto s = store->outbox_stats(3'000);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->queued, 3);
    EXPECT_EQ(s->running, 1);
    EXPECT_EQ(s->succeeded, 1);
    EXPECT_EQ(s->failed, 1);
    EXPECT_EQ(s->dead, 1);
    EXPECT_EQ(s->due, 2);
    EXPECT_EQ(s->oldest_due_age_ms, 2'000);  // t5, due since 1'000
    EXPECT_EQ(s->alerts_pending, 1);
    EXPECT_EQ(store->outbox_stats(1'200)->oldest_due_age_ms, 200);
    EXPECT_EQ(store->outbox_stats(999)->oldest_due_age_ms, 0);
    EXPECT_EQ(store->outbox_stats(999)->due, 0);
}

TEST_F(Outbox, DeadJobAlertsAreRetriedThenDone) {
    const auto ids = enqueue(a, {job("t1"), job("t2"), job("t3")}, 1'000);
    settle(ids[0], Next::die, 5'000);
    settle(ids[1], Next::die, 6'000);
    settle(ids[2], Next::fail, 6'000);  // failed jobs do not alert

    EXPECT_TRUE(store->pending_alerts(4'999, 10)->empty());
    auto due = store->pending_alerts(6'000, 10);
    ASSERT_TRUE(due);
    ASSERT_EQ(due->size(), 2u);
    EXPECT_EQ(due->front().job.id, ids[0]);  // oldest first
    EXPECT_EQ(due->front().job.last_error, "boom");
    EXPECT_EQ(store->pending_alerts(6'000, 1)->size(), 1u);

    auto claimed = store->claim_alerts(6'000, 66'000, 1);
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().job.id, ids[0]);
    EXPECT_EQ(claimed->front().claimed_until_ms, 66'000);
    EXPECT_EQ(store->pending_alerts(6'000, 10)->size(), 1u) << "a claimed alert is not due";
    ASSERT_TRUE(store->finish_alert(ids[0], 66'000, false, 8'000));
    EXPECT_EQ(store->pending_alerts(7'999, 10)->size(), 1u);
    auto retried = store->claim_alerts(8'000, 68'000, 10);
    ASSERT_EQ(retried->size(), 2u);
    EXPECT_EQ(retried->front().alert_attempts, 1);

    ASSERT_TRUE(store->finish_alert(ids[0], 68'000, true, 0));
    ASSERT_TRUE(store->finish_alert(ids[1], 68'000, false, 0));  // given up
    EXPECT_TRUE(store->pending_alerts(100'000, 10)->empty());
    EXPECT_EQ(store->outbox_stats(100'000)->alerts_pending, 0);
    auto again = store->finish_alert(ids[0], 68'000, true, 0);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::not_found);
}

// An instance that claimed an alert and died never posts it: once the claim's lease passes another instance claims
// it, and the lapsed claim can no longer record anything.
TEST_F(Outbox, AnAlertClaimHoldsUntilItsLeasePasses) {
    const auto ids = enqueue(a, {job("t1")}, 1'000);
    settle(ids[0], Next::die, 5'000);
    auto first = store->claim_alerts(6'000, 10'000, 10);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->size(), 1u);
    EXPECT_TRUE(store->claim_alerts(9'999, 20'000, 10)->empty()) << "held by the first claim";
    auto second = store->claim_alerts(10'000, 20'000, 10);
    ASSERT_TRUE(second);
    ASSERT_EQ(second->size(), 1u);
    EXPECT_EQ(second->front().job.id, ids[0]);
    auto lapsed = store->finish_alert(ids[0], 10'000, true, 0);
    ASSERT_FALSE(lapsed) << "the lapsed claim records nothing";
    EXPECT_EQ(lapsed.error().code, ErrorCode::not_found);
    ASSERT_TRUE(store->finish_alert(ids[0], 20'000, true, 0));
    EXPECT_TRUE(store->claim_alerts(100'000, 200'000, 10)->empty());
}

TEST_F(Outbox, PurgeDeletesOnlyOldSucceededJobs) {
    auto first = store->enqueue_sync({a.id, "call-1", hash(1), {job("t1")}}, 500);
    ASSERT_TRUE(first);
    const auto ids = enqueue(a, {job("t2"), job("t3")}, 500);
    const std::string old_done = first->job_ids[0];
    settle(old_done, Next::succeed, 1'000);
    settle(ids[0], Next::succeed, 3'000);
    settle(ids[1], Next::fail, 500);
    ASSERT_TRUE(store->finish_sync_attempt("job_none", 1, {}, 1).error().code == ErrorCode::not_found);

    auto n = store->purge_finished_sync_jobs(2'000);
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(*n, 1u);
    EXPECT_TRUE(store->find_sync_jobs(Q().job(old_done))->empty());
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id))->size(), 2u);
    EXPECT_EQ(*store->purge_finished_sync_jobs(2'000), 0u);
    // The idempotency key went with its jobs: reusing it starts a new request.
    auto reuse = store->enqueue_sync({a.id, "call-1", hash(9), {job("t1")}}, 4'000);
    ASSERT_TRUE(reuse) << reuse.error().message;
    EXPECT_FALSE(reuse->replayed);
}

TEST_F(Outbox, RotationResealsJobPayloadsAndKeepsTheirKey) {
    const auto ids = enqueue(a, {job("t1", "hubspot", R"({"n":1})"), job("t2", "hubspot", R"({"n":2})")}, 1'000);
    const auto done = enqueue(b, {job("t3", "hubspot", R"({"n":3})")}, 1'000);
    settle(done[0], Next::succeed, 1'000);  // finished jobs pin their key too
    ASSERT_EQ(*store->rotate_data_key(), 2u);

    auto status = store->key_status();
    ASSERT_TRUE(status) << status.error().message;
    ASSERT_EQ(status->keys.size(), 2u);
    // Each call's payload is one shared sync_payloads row; the jobs themselves hold no sealed data.
    EXPECT_EQ(status->keys[0].sync_payloads, 3);
    EXPECT_EQ(status->keys[0].sync_jobs, 0);
    EXPECT_EQ(status->rows_to_reseal, 3);
    EXPECT_EQ(*store->destroy_unused_keys(), 0u);  // queued jobs still need key 1
    auto from_other_process = open_store();
    ASSERT_EQ(*from_other_process->destroy_unused_keys(), 0u);

    auto p = store->reseal_batch(2);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->resealed, 2u);
    EXPECT_EQ(p->remaining, 1);
    p = store->reseal_batch(10);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->remaining, 0);
    EXPECT_EQ(store->key_status()->keys[0].sync_payloads, 0);
    EXPECT_EQ(store->key_status()->keys[1].sync_payloads, 3);
    EXPECT_EQ(*store->destroy_unused_keys(), 1u);

    auto claimed = from_other_process->claim_sync_jobs(ids, 2'000, 3'000);
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 2u);
    EXPECT_EQ((*claimed)[0].payload.text(), R"({"n":1})");
    EXPECT_EQ((*claimed)[1].payload.text(), R"({"n":2})");
}

TEST_F(Outbox, JobsEnqueuedAfterAnotherProcessRotatesUseTheNewKey) {
    auto other = open_store();
    ASSERT_EQ(*other->rotate_data_key(), 2u);
    const auto ids = enqueue(a, {job("t1")}, 1'000);  // `store` still holds key 1 as active
    EXPECT_EQ(store->key_status()->rows_to_reseal, 0);
    EXPECT_EQ(*other->destroy_unused_keys(), 1u);
    EXPECT_EQ(other->claim_sync_jobs(ids, 1'000, 2'000)->size(), 1u);
}

// Version 1 shipped an unused sync_jobs table; version 2 replaces it and keeps the ledger's rows.
TEST_F(StorageTest, OutboxMigrationUpgradesAVersion1Database) {
    SQLITE_ONLY();
    {
        auto db = raw();
        Transaction tx(*db);
        db->exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at INTEGER NOT NULL) STRICT");
        db->exec(migrations(Dialect::sqlite)[0].sql);
        db->exec("INSERT INTO schema_migrations VALUES (1, 'v1', 0)");
        db->exec("INSERT INTO tenants VALUES ('t_1', 'acme', 0)");
        db->exec("INSERT INTO sync_ledger VALUES ('t_1', 'hubspot', 'person', 'buyer-1', 'crm-1', NULL, 0, 0)");
        tx.commit();
    }
    auto s = open_store();
    auto ledger = s->sync_ledger("t_1", "hubspot", {"buyer-1"});
    ASSERT_TRUE(ledger) << ledger.error().message;
    ASSERT_EQ(ledger->size(), 1u);
    EXPECT_EQ(ledger->front().external_id, "crm-1");
    const NewSyncJob job{"hubspot", "tour", "tour-1", "tour-1", "tour-1", "{}"};
    auto ids = s->enqueue_sync({"t_1", "k", std::vector<unsigned char>(32, 7), {job}}, 1'000);
    ASSERT_TRUE(ids) << ids.error().message;
    EXPECT_EQ(s->claim_sync_jobs(ids->job_ids, 1'000, 2'000)->size(), 1u);
}

// Every accepted tour writes each sync_jobs index (migration 16): seven, and the finished and key indexes hold
// only the rows they serve, so a new job enters neither.
TEST_F(Outbox, SyncJobsKeepsSevenIndexesAndNewJobsStayOutOfThePartialOnes) {
    auto indexes = sync_jobs_indexes();
    EXPECT_EQ(names_of(indexes), (std::vector<std::string>{"sync_jobs_due", "sync_jobs_finished", "sync_jobs_key",
                                                           "sync_jobs_payload", "sync_jobs_subject", "sync_jobs_tenant_due",
                                                           "sync_jobs_tour"}));
    EXPECT_NE(indexes["sync_jobs_finished"].find("finished_at IS NOT NULL"), std::string::npos) << indexes["sync_jobs_finished"];
    EXPECT_NE(indexes["sync_jobs_key"].find("key_id IS NOT NULL"), std::string::npos) << indexes["sync_jobs_key"];
    // The queries that lost their index still answer: by team, by status, old finished jobs.
    const auto ids = enqueue(a, {job("t1"), job("t2")}, 1'000);
    ASSERT_EQ(store->claim_sync_jobs({ids[0]}, 1'000, 100'000)->size(), 1u);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id))->size(), 2u);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).status(JobStatus::running))->size(), 1u);
    EXPECT_EQ(store->outbox_stats(1'000)->queued, 1);
    // New and running jobs have neither a key of their own nor an end: the partial indexes leave them out.
    auto db = raw();
    Statement outside = db->prepare("SELECT count(*) FROM sync_jobs WHERE key_id IS NOT NULL OR finished_at IS NOT NULL");
    ASSERT_TRUE(outside.step());
    EXPECT_EQ(outside.int64(0), 0);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
