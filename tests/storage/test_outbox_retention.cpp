// The outbox against hostile volumes: one shared payload row per call, the per-team queue and CRM
// connection caps, batched retention with tombstones, idempotency keys expiring, ledger rows going with
// their CRM connection, and jobs written before shared payloads still opening.
#include "tests/storage/outbox_fixture.hpp"

#include "storage/migrations.hpp"

#include <cstring>

namespace rollout_mcp::storage::test {
namespace {

std::int64_t count(Database& db, const std::string& sql) {
    Statement st = db.prepare(sql);
    return st.step() ? st.int64(0) : -1;
}

class Retention : public Outbox {
protected:
    // Inserts a job as schema version 2 wrote it: its own ciphertext, sealed as (tenant, sync_job, id).
    void insert_legacy_job(Database& db, const std::string& tenant, const std::string& id, const std::string& text) {
        Statement k = db.prepare("SELECT nonce, wrapped FROM data_keys WHERE key_id = 1");
        ASSERT_TRUE(k.step());
        crypto::WrappedKey w;
        std::memcpy(w.nonce.data(), k.blob(0).data(), w.nonce.size());
        std::memcpy(w.box.data(), k.blob(1).data(), w.box.size());
        auto key = crypto::unwrap_key(master, crypto::WrapPurpose::data_key, 1, w);
        ASSERT_TRUE(key);
        const auto sealed = crypto::seal_with(1, *key, {tenant, "sync_job", id}, bytes(text));
        Statement ins = db.prepare(
            "INSERT INTO sync_jobs(id, tenant_id, batch_id, kind, crm_type, subject, tour_id, lock_key, key_id,"
            " nonce, ciphertext, status, next_attempt_at, created_at, updated_at)"
            " VALUES (?1, ?2, 'bat_1', 'tour', 'hubspot', 't', 't', 't', 1, ?3, ?4, 'queued', 1000, 1000, 1000)");
        ins.bind(1, id).bind(2, tenant).bind(3, std::span<const unsigned char>(sealed.nonce));
        ins.bind(4, std::span<const unsigned char>(sealed.ciphertext));
        ins.run();
    }

    // Jobs with no payload of their own: they share the request's.
    static std::vector<NewSyncJob> shared_jobs(const std::vector<std::string>& crms,
                                               const std::string& subject = "tour-1") {
        std::vector<NewSyncJob> out;
        for (const auto& crm : crms) out.push_back(job(subject, crm, ""));
        return out;
    }
    SyncRequest request(const Tenant& t, std::vector<NewSyncJob> jobs, std::string payload = R"({"tour":"x"})") {
        SyncRequest r{t.id, std::nullopt, {}, std::move(jobs)};
        r.payload_json = std::move(payload);
        return r;
    }
    // Marks every job of the tenant finished with `status` at `at_ms`.
    void finish_all(const Tenant& t, const char* status, std::int64_t at_ms) {
        exec_raw(std::string("UPDATE sync_jobs SET status = '") + status + "', finished_at = " + std::to_string(at_ms) +
                 " WHERE tenant_id = '" + t.id + "'");
    }
};

TEST_F(Retention, OneCallForThreeCrmsWritesOnePayloadRow) {
    auto r = store->enqueue_sync(request(a, shared_jobs({"hubspot", "lofty", "highlevel"}), R"({"tour":"T-1"})"), 1'000);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->job_ids.size(), 3u);
    auto db = raw();
    EXPECT_EQ(count(*db, "SELECT count(*) FROM sync_payloads"), 1);
    EXPECT_EQ(count(*db, "SELECT count(*) FROM sync_jobs"), 3);
    EXPECT_EQ(count(*db, "SELECT count(DISTINCT payload_id) FROM sync_jobs"), 1);
    EXPECT_EQ(count(*db, "SELECT count(*) FROM sync_jobs WHERE ciphertext IS NOT NULL OR key_id IS NOT NULL"), 0);
    auto claimed = store->claim_sync_jobs(r->job_ids, 1'000, 2'000);
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 3u);
    for (const auto& c : *claimed) EXPECT_EQ(c.payload.text(), R"({"tour":"T-1"})");
    // A payload row moved to another tenant does not open there (sealed with its own id and tenant).
    auto other = store->enqueue_sync(request(b, shared_jobs({"hubspot"})), 1'000);
    ASSERT_TRUE(other);
    exec_raw("UPDATE sync_payloads SET (key_id, nonce, ciphertext) = (SELECT key_id, nonce, ciphertext FROM"
             " sync_payloads WHERE tenant_id = '" + a.id + "') WHERE tenant_id = '" + b.id + "'");
    EXPECT_TRUE(store->claim_sync_jobs(other->job_ids, 1'000, 2'000)->empty());
}

TEST_F(Retention, QueueCapRefusesNewJobsUntilSomeFinish) {
    StorageLimits limits;
    limits.max_queued_jobs_per_tenant = 4;
    store->set_limits(limits);
    SyncRequest keyed = request(a, shared_jobs({"hubspot", "lofty"}));
    keyed.idempotency_key = "k1";
    keyed.args_hash = hash(1);
    auto first = store->enqueue_sync(keyed, 1'000);
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_TRUE(store->enqueue_sync(request(a, shared_jobs({"hubspot", "lofty"}, "tour-2")), 1'000));
    auto refused = store->enqueue_sync(request(a, shared_jobs({"hubspot"}, "tour-3")), 1'000);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::limit_exceeded);
    EXPECT_NE(refused.error().message.find("[sync] max_queued_per_team"), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find("retry later"), std::string::npos);
    EXPECT_EQ(count(*raw(), "SELECT count(*) FROM sync_payloads WHERE tenant_id = '" + a.id + "'"), 2);   // nothing written
    // A replay needs no room; another team is not affected.
    auto replay = store->enqueue_sync(keyed, 1'500);
    ASSERT_TRUE(replay) << replay.error().message;
    EXPECT_TRUE(replay->replayed);
    EXPECT_TRUE(store->enqueue_sync(request(b, shared_jobs({"hubspot", "lofty", "x", "y"})), 1'000));
    // Running jobs count too; a finished one frees its place.
    ASSERT_EQ(store->claim_sync_jobs({first->job_ids[0]}, 2'000, 9'000)->size(), 1u);
    EXPECT_FALSE(store->enqueue_sync(request(a, shared_jobs({"hubspot"}, "tour-3")), 2'000));
    ASSERT_TRUE(store->finish_sync_attempt(first->job_ids[0], 1, Outcome(Next::succeed), 2'000));
    EXPECT_TRUE(store->enqueue_sync(request(a, shared_jobs({"hubspot"}, "tour-3")), 2'000));
}

TEST_F(Retention, CrmConnectionCapRefusesANewCrmOnly) {
    StorageLimits limits;
    limits.max_crm_connections_per_tenant = 2;
    store->set_limits(limits);
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "", bytes("c1")));
    ASSERT_TRUE(store->put_crm_connection(a.id, "lofty", "", bytes("c2")));
    auto refused = store->put_crm_connection(a.id, "highlevel", "", bytes("c3"));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::limit_exceeded);
    EXPECT_NE(refused.error().message.find("[rollout] max_crm_connections_per_team"), std::string::npos)
        << refused.error().message;
    EXPECT_EQ(store->list_crm_connections(a.id)->size(), 2u);
    EXPECT_TRUE(store->put_crm_connection(a.id, "lofty", "relabelled", bytes("c2b")));   // an update is no new CRM
    EXPECT_TRUE(store->put_crm_connection(b.id, "highlevel", "", bytes("b1")));           // per team
    ASSERT_TRUE(store->delete_crm_connection(a.id, "hubspot"));
    EXPECT_TRUE(store->put_crm_connection(a.id, "highlevel", "", bytes("c3")));
}

TEST_F(Retention, LedgerGoesWithItsCrmConnectionAndItsTenant) {
    for (const char* crm : {"hubspot", "lofty"}) {
        ASSERT_TRUE(store->put_crm_connection(a.id, crm, "", bytes("cred")));
        ASSERT_TRUE(store->put_crm_connection(b.id, crm, "", bytes("cred")));
    }
    auto record = [&](const Tenant& t, const std::string& crm) {
        const auto ids = enqueue(t, {job("tour-1", crm)}, 1'000);
        ASSERT_EQ(store->claim_sync_jobs(ids, 1'000, 9'000)->size(), 1u);
        ASSERT_TRUE(store->finish_sync_attempt(
            ids[0], 1, Outcome(Next::succeed).ledger({{"person", "buyer-1", "crm-" + crm, {}}}), 1'000));
    };
    record(a, "hubspot");
    record(a, "lofty");
    record(b, "hubspot");
    ASSERT_EQ(store->sync_ledger(a.id, "hubspot", {"buyer-1"})->size(), 1u);
    ASSERT_TRUE(store->delete_crm_connection(a.id, "hubspot"));
    EXPECT_TRUE(store->sync_ledger(a.id, "hubspot", {"buyer-1"})->empty());
    EXPECT_EQ(store->sync_ledger(a.id, "lofty", {"buyer-1"})->size(), 1u);    // the other CRM's rows stay
    EXPECT_EQ(store->sync_ledger(b.id, "hubspot", {"buyer-1"})->size(), 1u);  // and the other team's
    // A removed team takes its ledger with it (foreign keys cascade).
    exec_raw("DELETE FROM tenants WHERE id = '" + a.id + "'");
    EXPECT_EQ(count(*raw(), "SELECT count(*) FROM sync_ledger WHERE tenant_id = '" + a.id + "'"), 0);
    EXPECT_EQ(count(*raw(), "SELECT count(*) FROM sync_payloads WHERE tenant_id = '" + a.id + "'"), 0);
    EXPECT_EQ(store->sync_ledger(b.id, "hubspot", {"buyer-1"})->size(), 1u);
}

TEST_F(Retention, PurgeRunsInBoundedBatchesAndLeavesTombstones) {
    std::vector<std::string> ids;
    for (int call = 0; call < 20; ++call) {
        std::vector<std::string> crms;
        for (int i = 0; i < 60; ++i) crms.push_back("crm-" + std::to_string(i));
        auto r = store->enqueue_sync(request(a, shared_jobs(crms, "tour-" + std::to_string(call))), 1'000);
        ASSERT_TRUE(r) << r.error().message;
        ids.insert(ids.end(), r->job_ids.begin(), r->job_ids.end());
    }
    finish_all(a, "failed", 1'000);
    const auto kept = enqueue(b, {job("tour-b")}, 1'000);   // queued: never purged
    PurgePolicy policy;
    policy.failed_before_ms = 2'000;
    std::size_t batches = 0, jobs = 0, payloads = 0;
    for (;;) {
        auto step = store->purge_sync_batch(policy, 5'000, 500);
        ASSERT_TRUE(step) << step.error().message;
        EXPECT_LE(step->jobs * 2 + step->payloads + step->requests + step->tombstones, 500u);
        ++batches;
        jobs += step->jobs;
        payloads += step->payloads;
        if (step->done) break;
        ASSERT_LT(batches, 100u);
    }
    EXPECT_GT(batches, 2u);
    EXPECT_EQ(jobs, 1'200u);
    EXPECT_EQ(payloads, 20u);
    auto db = raw();
    EXPECT_EQ(count(*db, "SELECT count(*) FROM sync_jobs"), 1);
    EXPECT_EQ(count(*db, "SELECT count(*) FROM sync_payloads"), 1);   // team b's, still referenced
    EXPECT_EQ(count(*db, "SELECT count(*) FROM sync_job_tombstones"), 1'200);
    EXPECT_EQ(store->claim_sync_jobs(kept, 5'000, 9'000)->size(), 1u);

    // Expired for the owning team; another team's probe reads exactly like an unknown id.
    auto mine = store->find_sync_job_tombstone(a.id, ids[7]);
    ASSERT_TRUE(mine) << mine.error().message;
    EXPECT_EQ(mine->purged_at_ms, 5'000);
    auto theirs = store->find_sync_job_tombstone(b.id, ids[7]);
    auto unknown = store->find_sync_job_tombstone(b.id, "job_000000000000000000000000");
    ASSERT_FALSE(theirs);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(theirs.error().code, unknown.error().code);
    EXPECT_EQ(theirs.error().message.substr(0, 13), unknown.error().message.substr(0, 13));
    EXPECT_TRUE(store->find_sync_jobs(Q().tenant(b.id).job(ids[7]))->empty());

    // Tombstones go after their own cut-off.
    policy.tombstones_before_ms = 6'000;
    for (int guard = 0; guard < 100; ++guard)
        if (store->purge_sync_batch(policy, 7'000, 500)->done) break;
    EXPECT_EQ(count(*raw(), "SELECT count(*) FROM sync_job_tombstones"), 0);
    EXPECT_FALSE(store->find_sync_job_tombstone(a.id, ids[7]));
}

TEST_F(Retention, SucceededAndFailedJobsHaveTheirOwnCutOffs) {
    const auto ok = enqueue(a, {job("t1")}, 1'000);
    const auto bad = enqueue(a, {job("t2")}, 1'000);
    const auto dead = enqueue(a, {job("t3")}, 1'000);
    settle(ok[0], Next::succeed, 1'000);
    settle(bad[0], Next::fail, 1'000);
    settle(dead[0], Next::die, 1'000);
    PurgePolicy policy;
    policy.succeeded_before_ms = 2'000;
    policy.failed_before_ms = 500;
    auto step = store->purge_sync_batch(policy, 3'000, 500);
    ASSERT_TRUE(step);
    EXPECT_TRUE(step->done);
    EXPECT_EQ(step->jobs, 1u);
    EXPECT_TRUE(store->find_sync_jobs(Q().job(ok[0]))->empty());
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id))->size(), 2u);
    policy.failed_before_ms = 2'000;
    EXPECT_EQ(store->purge_sync_batch(policy, 3'000, 500)->jobs, 2u);
    EXPECT_TRUE(store->find_sync_jobs(Q().tenant(a.id))->empty());
}

TEST_F(Retention, ExpiredIdempotencyKeyCanBeReused) {
    SyncRequest keyed = request(a, shared_jobs({"hubspot"}));
    keyed.idempotency_key = "call-1";
    keyed.args_hash = hash(1);
    ASSERT_TRUE(store->enqueue_sync(keyed, 1'000));
    keyed.args_hash = hash(2);
    ASSERT_EQ(store->enqueue_sync(keyed, 1'500).error().code, ErrorCode::already_exists);
    PurgePolicy policy;
    policy.requests_before_ms = 900;   // not old enough yet
    EXPECT_EQ(store->purge_sync_batch(policy, 2'000, 500)->requests, 0u);
    policy.requests_before_ms = 2'000;
    EXPECT_EQ(store->purge_sync_batch(policy, 2'000, 500)->requests, 1u);
    auto reused = store->enqueue_sync(keyed, 3'000);
    ASSERT_TRUE(reused) << reused.error().message;
    EXPECT_FALSE(reused->replayed);
}

// A job written before shared payloads (its own ciphertext, sealed as tenant/sync_job/<id>) still opens,
// and key rotation re-seals it.
TEST_F(Retention, LegacyPerJobPayloadStillOpensAndIsResealed) {
    const std::string id = "job_00000000000000000000beef";
    const std::string text = R"({"legacy":true})";
    insert_legacy_job(*raw(), a.id, id, text);
    ASSERT_EQ(*store->rotate_data_key(), 2u);
    auto status = store->key_status();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->keys[0].sync_jobs, 1);
    EXPECT_EQ(status->rows_to_reseal, 1);
    auto p = store->reseal_batch(10);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->remaining, 0);
    EXPECT_EQ(*store->destroy_unused_keys(), 1u);
    auto claimed = store->claim_sync_jobs({id}, 1'000, 2'000);
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().payload.text(), text);
}

// Migrations 3 and later on a version-2 database: its jobs (own ciphertext) survive the table rebuild and run.
TEST_F(Retention, Version2JobsSurviveMigration3) {
    SQLITE_ONLY();
    const std::string id = "job_00000000000000000000cafe";
    {
        // Take this database back to version 2: the v2 sync_jobs table, none of version 3's objects.
        store.reset();
        auto db = raw();
        const std::string v2(migrations(Dialect::sqlite)[1].sql);
        const auto from = v2.find("CREATE TABLE sync_jobs");
        const auto to = v2.find("-- Idempotency keys");
        ASSERT_NE(from, std::string::npos);
        ASSERT_NE(to, std::string::npos);
        Transaction tx(*db);
        db->exec("DROP TRIGGER rollout_configs_version_insert; DROP TRIGGER rollout_configs_version_update;"
                 " DROP TRIGGER rollout_configs_version_delete; DROP TRIGGER crm_connections_version_insert;"
                 " DROP TRIGGER crm_connections_version_update; DROP TRIGGER crm_connections_version_delete;"
                 " DROP TRIGGER tenants_legacy_markers_version; ALTER TABLE tenants DROP COLUMN legacy_markers;"
                 " ALTER TABLE tenants DROP COLUMN config_version;"
                 " DROP TABLE mcp_sessions; DROP TABLE sync_tasks; DROP TABLE sync_jobs; DROP TABLE sync_payloads; DROP TABLE sync_job_tombstones;"
                 " DROP INDEX sync_requests_created; DROP TABLE automations; DROP INDEX crm_connections_fingerprint;"
                 " ALTER TABLE crm_connections DROP COLUMN credential_fingerprint; DROP TABLE rollout_rate_buckets;"
                 " DROP TABLE crm_changes; DROP TABLE crm_change_counters; DROP TABLE event_subscriptions;"
                 " DROP TABLE hook_inbox; DROP TABLE hook_reconcile; DROP TABLE hook_routes;"
                 " DROP INDEX sync_ledger_external; ALTER TABLE sync_ledger DROP COLUMN crm_state;"
                 " DROP INDEX sync_ledger_checked; ALTER TABLE sync_ledger DROP COLUMN checked_at;"
                 " ALTER TABLE sync_ledger DROP COLUMN written_state;"
                 " DELETE FROM schema_migrations WHERE version >= 3");
        db->exec(v2.substr(from, to - from).c_str());
        tx.commit();
        insert_legacy_job(*db, a.id, id, R"({"v":2})");
    }
    store = open_store();
    EXPECT_EQ(count(*raw(), "SELECT max(version) FROM schema_migrations"), latest_schema_version());
    auto found = store->find_sync_jobs(Q().tenant(a.id).job(id));
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_EQ(found->size(), 1u);
    auto claimed = store->claim_sync_jobs({id}, 1'000, 2'000);
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().payload.text(), R"({"v":2})");
    // New jobs beside it use shared payloads.
    EXPECT_EQ(enqueue(a, {job("t9")}, 1'000).size(), 1u);
    EXPECT_EQ(count(*raw(), "SELECT count(*) FROM sync_payloads"), 1);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
