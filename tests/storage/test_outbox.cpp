// The sync outbox in SQLite: enqueue/idempotency/validation, sealing at rest, fair due lists, claims,
// attempt outcomes and the ledger. Operator-side calls and key rotation are in test_outbox_admin.cpp.
#include "tests/storage/outbox_fixture.hpp"

#include <algorithm>

namespace rollout_mcp::storage::test {
namespace {

// Ids made later sort after earlier ones, so a group commit's new rows share their index pages; the random part
// keeps ids of one millisecond apart and unguessable.
TEST_F(Outbox, JobIdsSortByTheirEnqueueTime) {
    std::vector<std::string> ids;
    for (const std::int64_t ms : std::vector<std::int64_t>{1'000, 1'001, 2'000, 1'000'000'000'000}) {
        const auto one = enqueue(a, {job("tour-" + std::to_string(ms))}, ms);
        ASSERT_EQ(one.size(), 1u);
        ids.push_back(one[0]);
    }
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    {
        // Their payloads and batches too.
        auto db = raw();
        Statement st = db->prepare("SELECT payload_id, batch_id FROM sync_jobs ORDER BY created_at, id");
        std::vector<std::string> payloads, batches;
        while (st.step()) {
            payloads.push_back(st.text(0));
            batches.push_back(st.text(1));
        }
        ASSERT_EQ(payloads.size(), 4u);
        EXPECT_TRUE(std::is_sorted(payloads.begin(), payloads.end()));
        EXPECT_TRUE(std::is_sorted(batches.begin(), batches.end()));
        EXPECT_TRUE(payloads[0].starts_with("pay_") && payloads[0].size() == 40u) << payloads[0];
        EXPECT_TRUE(batches[0].starts_with("bat_") && batches[0].size() == 40u) << batches[0];
    }
    const auto same_ms = enqueue(a, {job("tour-x"), job("tour-y")}, 3'000);
    ASSERT_EQ(same_ms.size(), 2u);
    EXPECT_EQ(same_ms[0].substr(0, 16), same_ms[1].substr(0, 16));
    EXPECT_NE(same_ms[0].substr(16), same_ms[1].substr(16));
}

TEST_F(Outbox, EnqueueAndFindRoundTrip) {
    NewSyncJob tour = job("tour-1", "hubspot", R"({"client":"Ada"})");
    NewSyncJob fb = job("tour-1/prop-9", "hubspot", R"({"rating":5})");
    fb.kind = "feedback";
    fb.lock_key = "buyer-3";
    const auto ids = enqueue(a, {tour, fb}, 1'000);
    ASSERT_EQ(ids.size(), 2u);
    for (const auto& id : ids) {
        EXPECT_TRUE(id.starts_with("job_")) << id;
        EXPECT_EQ(id.size(), 40u);   // 12 hex of the enqueue's millisecond, then 24 random
        EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 4), std::string::npos) << id;
        EXPECT_EQ(id.substr(4, 12), "0000000003e8") << id;   // 1'000 ms
    }
    EXPECT_NE(ids[0], ids[1]);

    auto all = store->find_sync_jobs(Q().tenant(a.id));
    ASSERT_TRUE(all) << all.error().message;
    ASSERT_EQ(all->size(), 2u);
    auto one = store->find_sync_jobs(Q().tenant(a.id).job(ids[1]));
    ASSERT_TRUE(one);
    ASSERT_EQ(one->size(), 1u);
    const SyncJobInfo& j = one->front();
    EXPECT_EQ(j.tenant_id, a.id);
    EXPECT_EQ(j.kind, "feedback");
    EXPECT_EQ(j.crm_type, "hubspot");
    EXPECT_EQ(j.subject, "tour-1/prop-9");
    EXPECT_EQ(j.tour_id, "tour-1");
    EXPECT_EQ(j.lock_key, "buyer-3");
    EXPECT_EQ(j.status, JobStatus::queued);
    EXPECT_EQ(j.attempts, 0);
    EXPECT_EQ(j.next_attempt_at_ms, 1'000);
    EXPECT_EQ(j.created_at_ms, 1'000);
    EXPECT_FALSE(j.finished_at_ms);
    EXPECT_EQ(j.last_error, "");
    EXPECT_EQ(j.result_json, "");
    EXPECT_FALSE(j.recover);

    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).tour("tour-1"))->size(), 2u);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).subject("tour-1"))->size(), 1u);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).kind("feedback"))->front().id, ids[1]);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).status(JobStatus::dead))->size(), 0u);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).limit(1))->size(), 1u);

    // Newest first.
    enqueue(a, {job("tour-2")}, 2'000);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id))->front().subject, "tour-2");

    // The tour and the feedback on it share (tenant, CRM, tour): they are claimed one after the other.
    auto claimed = store->claim_sync_jobs(ids, 1'000, 61'000);
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ((*claimed)[0].payload.text(), R"({"client":"Ada"})");
    ASSERT_TRUE(store->finish_sync_attempt(ids[0], (*claimed)[0].claim_token, Outcome(Next::succeed), 1'000));
    auto second = store->claim_sync_jobs({ids[1]}, 1'000, 61'000);
    ASSERT_TRUE(second) << second.error().message;
    ASSERT_EQ(second->size(), 1u);
    EXPECT_EQ((*second)[0].payload.text(), R"({"rating":5})");
    EXPECT_EQ(to_string(JobStatus::dead), "dead");
    EXPECT_EQ(job_status_from("running"), JobStatus::running);
    EXPECT_FALSE(job_status_from("pending"));
}

TEST_F(Outbox, PayloadIsSealedAtRest) {
    const std::string name = "Zebediah Quackenbush-Oyelaran";
    const auto ids = enqueue(a, {job("tour-1", "hubspot", R"({"client":")" + name + R"("})")}, 1'000);
    {
        auto db = raw();
        Statement st = db->prepare(
            "SELECT p.ciphertext, p.key_id FROM sync_jobs j JOIN sync_payloads p ON p.id = j.payload_id WHERE j.id = ?1");
        st.bind(1, ids[0]);
        ASSERT_TRUE(st.step());
        EXPECT_FALSE(rollout_mcp::test::contains(st.blob(0), name));
        EXPECT_EQ(st.int64(1), 1);
    }
    ASSERT_TRUE(store->checkpoint());
    for (const char* suffix : {"", "-wal"}) {
        const auto bytes_on_disk = rollout_mcp::test::read_file(db_path().string() + suffix);
        EXPECT_FALSE(rollout_mcp::test::contains(bytes_on_disk, name)) << suffix;
        EXPECT_FALSE(rollout_mcp::test::contains(bytes_on_disk, "Quackenbush")) << suffix;
    }
    auto claimed = store->claim_sync_jobs(ids, 1'000, 2'000);
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_NE(claimed->front().payload.text().find(name), std::string::npos);
}

TEST_F(Outbox, CiphertextMovedToAnotherJobDoesNotOpen) {
    // Distinct payloads, so each job has its own sync_payloads row (identical ones are shared).
    const auto ids = enqueue(a, {job("tour-1", "hubspot", R"({"n":1})"), job("tour-2", "hubspot", R"({"n":2})")}, 1'000);
    const auto payload_of = [](const std::string& id) {
        return "(SELECT payload_id FROM sync_jobs WHERE id = '" + id + "')";
    };
    exec_raw("UPDATE sync_payloads SET (key_id, nonce, ciphertext) = (SELECT key_id, nonce, ciphertext FROM"
             " sync_payloads WHERE id = " + payload_of(ids[0]) + ") WHERE id = " + payload_of(ids[1]));
    auto claimed = store->claim_sync_jobs(ids, 1'000, 2'000);
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().info.id, ids[0]);
}

TEST_F(Outbox, IdempotencyKeyReplaysAndConflicts) {
    SyncRequest r{a.id, "call-1", hash(1),
                  {job("tour-1", "hubspot"), job("tour-1", "salesforce"), job("tour-1", "zoho")}};
    auto first = store->enqueue_sync(r, 1'000);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_FALSE(first->replayed);
    ASSERT_EQ(first->job_ids.size(), 3u);

    auto again = store->enqueue_sync(r, 5'000);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_TRUE(again->replayed);
    EXPECT_EQ(again->job_ids, first->job_ids);  // same jobs, same order
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id))->size(), 3u);

    r.args_hash = hash(2);
    auto conflict = store->enqueue_sync(r, 6'000);
    ASSERT_FALSE(conflict);
    EXPECT_EQ(conflict.error().code, ErrorCode::already_exists);
    EXPECT_EQ(conflict.error().message, "idempotencyKey \"call-1\" was already used with different arguments");

    // Keys are per tenant; no key means no deduplication.
    SyncRequest other{b.id, "call-1", hash(2), {job("tour-1")}};
    auto b_result = store->enqueue_sync(other, 1'000);
    ASSERT_TRUE(b_result);
    EXPECT_FALSE(b_result->replayed);
    SyncRequest keyless{a.id, std::nullopt, {}, {job("tour-1")}};
    ASSERT_TRUE(store->enqueue_sync(keyless, 1'000));
    ASSERT_TRUE(store->enqueue_sync(keyless, 1'000));
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id))->size(), 5u);
}

TEST_F(Outbox, ValidationErrorsNameTheField) {
    struct Case {
        const char* field;
        std::function<void(SyncRequest&)> mutate;
    };
    const std::vector<Case> cases = {
        {"jobs", [](SyncRequest& r) { r.jobs.clear(); }},
        {"jobs", [](SyncRequest& r) { const NewSyncJob j = r.jobs[0]; r.jobs.assign(65, j); }},
        {"jobs[1].crm_type", [](SyncRequest& r) { r.jobs[1].crm_type = "Hub Spot"; }},
        {"jobs[0].crm_type", [](SyncRequest& r) { r.jobs[0].crm_type = ""; }},
        {"jobs[0].kind", [](SyncRequest& r) { r.jobs[0].kind = "visit"; }},
        {"jobs[1].subject", [](SyncRequest& r) { r.jobs[1].subject = ""; }},
        {"jobs[0].lock_key", [](SyncRequest& r) { r.jobs[0].lock_key = ""; }},
        {"jobs[1].payload_json", [](SyncRequest& r) { r.jobs[1].payload_json = "{\"client\":"; }},
        {"jobs[0].payload_json", [](SyncRequest& r) { r.jobs[0].payload_json = ""; }},
        {"args_hash", [](SyncRequest& r) { r.args_hash.resize(31); }},
        {"idempotencyKey", [](SyncRequest& r) { r.idempotency_key = ""; }},
        {"idempotencyKey", [](SyncRequest& r) { r.idempotency_key = std::string(201, 'k'); }},
    };
    for (const Case& c : cases) {
        SyncRequest r{a.id, "key", hash(1), {job("tour-1"), job("tour-2")}};
        c.mutate(r);
        auto result = store->enqueue_sync(r, 1'000);
        ASSERT_FALSE(result) << c.field;
        EXPECT_EQ(result.error().code, ErrorCode::invalid_argument) << c.field;
        EXPECT_TRUE(result.error().message.starts_with(c.field)) << c.field << ": " << result.error().message;
    }
    SyncRequest ok{a.id, std::string(200, 'k'), hash(1), {job("tour-1")}};
    ok.jobs.resize(64, job("tour-1"));
    EXPECT_TRUE(store->enqueue_sync(ok, 1'000));
    auto unknown = store->enqueue_sync({"t_000000000000000000000000", std::nullopt, {}, {job("tour-1")}}, 1'000);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, ErrorCode::not_found);
    EXPECT_EQ(store->find_sync_jobs(Q().tenant(a.id).limit(1000))->size(), 64u);  // failures wrote nothing
}

TEST_F(Outbox, DueJobsAreFairAcrossTenants) {
    const Tenant c = make_tenant(*store, "team-c");
    std::vector<std::string> ja, jb, jc;
    for (int i = 0; i < 5; ++i) ja.push_back(enqueue(a, {job("a" + std::to_string(i))}, 100 + i)[0]);
    for (int i = 0; i < 2; ++i) jb.push_back(enqueue(b, {job("b" + std::to_string(i))}, 200 + i)[0]);
    jc.push_back(enqueue(c, {job("c0")}, 50)[0]);
    enqueue(c, {job("c-later")}, 10'000);  // not due yet

    const auto order = [&](std::size_t per_tenant, std::size_t limit) {
        std::vector<std::string> out;
        auto due = store->due_sync_jobs(1'000, per_tenant, limit);
        EXPECT_TRUE(due) << due.error().message;
        for (const DueJob& d : *due) out.push_back(d.id);
        return out;
    };
    EXPECT_EQ(order(10, 100), (std::vector<std::string>{jc[0], ja[0], jb[0], ja[1], jb[1], ja[2], ja[3], ja[4]}));
    EXPECT_EQ(order(2, 100), (std::vector<std::string>{jc[0], ja[0], jb[0], ja[1], jb[1]}));
    EXPECT_EQ(order(10, 4), (std::vector<std::string>{jc[0], ja[0], jb[0], ja[1]}));
    EXPECT_TRUE(order(0, 100).empty());

    auto due = store->due_sync_jobs(1'000, 1, 1);
    ASSERT_TRUE(due);
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ(due->front().tenant_id, c.id);
    EXPECT_EQ(due->front().crm_type, "hubspot");
    EXPECT_EQ(due->front().lock_key, "c0");
}

TEST_F(Outbox, ClaimIsCompareAndSetAndExpiredLeasesRecover) {
    const auto ids = enqueue(a, {job("tour-1")}, 1'000);
    auto first = store->claim_sync_jobs(ids, 1'000, 2'000);
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_EQ(first->size(), 1u);
    EXPECT_EQ(first->front().info.status, JobStatus::running);
    EXPECT_EQ(first->front().info.attempts, 1);
    EXPECT_FALSE(first->front().info.recover);

    EXPECT_TRUE(store->claim_sync_jobs(ids, 1'500, 3'000)->empty());  // still leased
    EXPECT_TRUE(store->due_sync_jobs(1'500, 10, 10)->empty());
    EXPECT_TRUE(store->claim_sync_jobs({"job_unknown"}, 1'500, 3'000)->empty());

    EXPECT_EQ(store->due_sync_jobs(2'000, 10, 10)->size(), 1u);  // lease expired
    auto taken_over = store->claim_sync_jobs(ids, 2'000, 4'000);
    ASSERT_TRUE(taken_over);
    ASSERT_EQ(taken_over->size(), 1u);
    EXPECT_EQ(taken_over->front().info.attempts, 2);
    EXPECT_TRUE(taken_over->front().info.recover);
    EXPECT_EQ(taken_over->front().payload.text(), R"({"client":"x"})");

    // A queued job is not claimable before its time.
    const auto later = enqueue(a, {job("tour-2")}, 9'000);
    EXPECT_TRUE(store->claim_sync_jobs(later, 8'999, 20'000)->empty());
    EXPECT_EQ(store->claim_sync_jobs(later, 9'000, 20'000)->size(), 1u);
}

TEST_F(Outbox, CorruptPayloadFailsOnlyThatJob) {
    // Distinct payloads, so only the second job's shared payload row is corrupted.
    const auto ids = enqueue(a, {job("tour-1", "hubspot", R"({"n":1})"), job("tour-2", "hubspot", R"({"n":2})"),
                                 job("tour-3", "hubspot", R"({"n":3})")}, 1'000);
    exec_raw("UPDATE sync_payloads SET ciphertext = zeroblob(length(ciphertext))"
             " WHERE id = (SELECT payload_id FROM sync_jobs WHERE id = '" + ids[1] + "')");
    auto claimed = store->claim_sync_jobs(ids, 1'000, 2'000);
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 2u);
    EXPECT_EQ((*claimed)[0].info.id, ids[0]);
    EXPECT_EQ((*claimed)[1].info.id, ids[2]);
    const SyncJobInfo bad = store->find_sync_jobs(Q().job(ids[1]))->front();
    EXPECT_EQ(bad.status, JobStatus::failed);
    EXPECT_TRUE(bad.last_error.starts_with("payload cannot be opened: ")) << bad.last_error;
    EXPECT_EQ(bad.finished_at_ms, 1'000);
    EXPECT_TRUE(store->due_sync_jobs(1'500, 10, 10)->empty());  // the failed job is not due again
}

TEST_F(Outbox, FinishRecordsEachOutcome) {
    const auto ids = enqueue(a, {job("t1"), job("t2"), job("t3"), job("t4")}, 1'000);
    ASSERT_EQ(store->claim_sync_jobs(ids, 1'000, 9'000)->size(), 4u);

    auto ok = store->finish_sync_attempt(
        ids[0], 1, Outcome(Next::succeed).http(200).result(R"([{"kind":"person","id":"p1"}])"), 2'000);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->status, JobStatus::succeeded);
    EXPECT_EQ(ok->finished_at_ms, 2'000);
    EXPECT_EQ(ok->updated_at_ms, 2'000);
    EXPECT_EQ(ok->result_json, R"([{"kind":"person","id":"p1"}])");
    EXPECT_EQ(ok->last_error, "");

    auto retry = store->finish_sync_attempt(
        ids[1], 1, Outcome(Next::retry).at(5'000).error("timeout").http(504).recover(true), 2'000);
    ASSERT_TRUE(retry) << retry.error().message;
    EXPECT_EQ(retry->status, JobStatus::queued);
    EXPECT_EQ(retry->next_attempt_at_ms, 5'000);
    EXPECT_EQ(retry->last_error, "timeout");
    EXPECT_EQ(retry->last_http_status, 504u);
    EXPECT_TRUE(retry->recover);
    EXPECT_FALSE(retry->finished_at_ms);
    EXPECT_EQ(retry->result_json, "");  // an empty result keeps the previous one
    EXPECT_TRUE(store->due_sync_jobs(4'999, 10, 10)->empty());  // the others' leases run to 9'000
    EXPECT_EQ(store->due_sync_jobs(5'000, 10, 10)->size(), 1u);
    // The retried attempt succeeds: recover is cleared.
    ASSERT_EQ(store->claim_sync_jobs({ids[1]}, 5'000, 9'000)->front().info.attempts, 2);
    EXPECT_FALSE(store->finish_sync_attempt(ids[1], 2, Outcome(Next::succeed), 6'000)->recover);

    auto failed = store->finish_sync_attempt(ids[2], 1, Outcome(Next::fail).error("invalid email").http(422), 2'000);
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->status, JobStatus::failed);
    EXPECT_EQ(failed->finished_at_ms, 2'000);
    EXPECT_EQ(failed->last_error, "invalid email");

    auto dead = store->finish_sync_attempt(ids[3], 1, Outcome(Next::die).error("503 x5").http(503), 3'000);
    ASSERT_TRUE(dead);
    EXPECT_EQ(dead->status, JobStatus::dead);
    auto alerts = store->pending_alerts(3'000, 10);
    ASSERT_TRUE(alerts);
    ASSERT_EQ(alerts->size(), 1u);
    EXPECT_EQ(alerts->front().job.id, ids[3]);
    EXPECT_EQ(alerts->front().alert_attempts, 0);

    // Only a running job can be finished.
    for (const auto& id : {ids[0], ids[2], std::string("job_unknown")}) {
        auto again = store->finish_sync_attempt(id, 1, Outcome(Next::succeed), 4'000);
        ASSERT_FALSE(again) << id;
        EXPECT_EQ(again.error().code, ErrorCode::not_found);
    }
}

TEST_F(Outbox, LedgerUpsertKeepsKnownIds) {
    const auto run = [&](std::vector<LedgerEntry> ledger, Next next) {
        const auto id = enqueue(a, {job("tour-1")}, 1'000)[0];
        ASSERT_EQ(store->claim_sync_jobs({id}, 1'000, 9'000)->size(), 1u);
        ASSERT_TRUE(store->finish_sync_attempt(id, 1, Outcome(next).at(5'000).ledger(ledger), 2'000));
    };
    const std::vector<unsigned char> h1 = hash(1), h2 = hash(2);
    run({{"person", "buyer-1", "crm-p1", h1}, {"tour", "tour-1", "", h1}}, Next::retry);  // progress on failure
    run({{"person", "buyer-1", "", {}}, {"tour", "tour-1", "", h2}}, Next::succeed);
    run({{"appointment", "tour-1", "crm-a1", {}}}, Next::succeed);

    auto rows = store->sync_ledger(a.id, "hubspot", {"buyer-1", "tour-1", "nobody"});
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), 3u);
    EXPECT_EQ((*rows)[0].entity_kind, "person");
    EXPECT_EQ((*rows)[0].external_id, "crm-p1");  // the empty id did not overwrite it
    EXPECT_EQ((*rows)[0].payload_hash, h1);       // nor the empty hash
    EXPECT_EQ((*rows)[1].entity_kind, "appointment");
    EXPECT_EQ((*rows)[1].external_id, "crm-a1");
    EXPECT_TRUE((*rows)[1].payload_hash.empty());
    EXPECT_EQ((*rows)[2].entity_kind, "tour");
    EXPECT_EQ((*rows)[2].payload_hash, h2);  // a new hash replaces the old one

    run({{"person", "buyer-1", "crm-p9", {}}}, Next::succeed);
    EXPECT_EQ(store->sync_ledger(a.id, "hubspot", {"buyer-1"})->front().external_id, "crm-p9");
    EXPECT_TRUE(store->sync_ledger(a.id, "salesforce", {"buyer-1"})->empty());
    EXPECT_TRUE(store->sync_ledger(b.id, "hubspot", {"buyer-1"})->empty());
    EXPECT_TRUE(store->sync_ledger(a.id, "hubspot", {})->empty());

    // More ids than one statement binds.
    std::vector<std::string> many;
    for (int i = 0; i < 450; ++i) many.push_back("x" + std::to_string(i));
    many.push_back("tour-1");
    EXPECT_EQ(store->sync_ledger(a.id, "hubspot", many)->size(), 2u);

    auto bad = store->finish_sync_attempt("job_x", 1, Outcome(Next::succeed).ledger({{"", "id", "", {}}}), 1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
