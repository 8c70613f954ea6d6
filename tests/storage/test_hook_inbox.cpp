// Processing the webhook inbox in the store, on SQLite and PostgreSQL (storage/sql_hook_inbox.cpp): claims lease
// rows under a fencing token (an expired lease is claimed again, the old token then writes nothing), a finish
// commits changes, ledger states and the outcome together or nothing at all, retries count and delay, rows whose
// CRM connection changed are dropped, two instances never share a row; the ledger's crm_state, written_state and
// its lookup by CRM id; retention of processed rows.
#include "tests/storage/hook_fixture.hpp"

#include <mutex>
#include <set>
#include <thread>

namespace rollout_mcp::storage::test {
namespace {

using Status = FinishedHookEvent::Status;

class HookInbox : public HookStoreTest {
protected:
    bool deliver(const HookRoute& route, const std::string& event_id, std::int64_t now_ms = 500) {
        auto r = store->record_hook_delivery(
            route, HookDelivery{event_id, "appointmentsUpdated", "2026-12-01T10:00:00Z", R"(["appt-1"])"}, now_ms);
        if (!r) throw std::runtime_error(r.error().message);
        return *r;
    }
    std::string ledger_state(const Tenant& t, const std::string& crm, const std::string& local_id) {
        auto rows = store->sync_ledger(t.id, crm, {local_id});
        if (!rows || rows->size() != 1) throw std::runtime_error("no single ledger row for " + local_id);
        return rows->front().crm_state;
    }
    static CrmChange rescheduled() {
        CrmChange c;
        c.kind = "showing_rescheduled";
        c.tour_id = "tour-1";
        c.visit_id = "tour-1/P1";
        c.fields_json = R"({"start":"2026-12-07T15:00:00Z"})";
        c.record_id = "appt-1";
        c.occurred_at_ms = 400;
        return c;
    }
};

TEST_F(HookInbox, ClaimLeasesRowsOldestFirstAndASecondClaimBeforeExpiryGetsNothing) {
    const HookRoute ra = connect(a, "hubspot"), rb = connect(b, "hubspot", "cred-b");
    ASSERT_TRUE(deliver(ra, "e1"));
    ASSERT_TRUE(deliver(rb, "e1"));
    ASSERT_TRUE(deliver(ra, "e2"));
    EXPECT_EQ(*store->pending_hook_events(), 3);
    const auto first = claim(1'000, 30'000, 2);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].tenant_id, a.id);
    EXPECT_EQ(first[0].row.delivery.event_id, "e1");
    EXPECT_EQ(first[0].row.delivery.resource_ids_json, R"(["appt-1"])");
    EXPECT_EQ(first[0].row.crm_type, "hubspot");
    EXPECT_EQ(first[0].row.received_at, 500);
    EXPECT_EQ(first[0].credential_fingerprint, ra.credential_fingerprint);
    EXPECT_EQ(first[0].attempts, 0);
    EXPECT_GT(first[0].claim_token, 0);
    EXPECT_EQ(first[1].tenant_id, b.id);
    EXPECT_LT(first[0].row.id, first[1].row.id);
    const auto rest = claim(2'000);
    ASSERT_EQ(rest.size(), 1u) << "the two leased rows are not offered again";
    EXPECT_EQ(rest[0].row.delivery.event_id, "e2");
    EXPECT_TRUE(claim(30'999).empty()) << "every lease still runs";
    EXPECT_EQ(*store->pending_hook_events(), 3) << "claimed is still pending";
    EXPECT_TRUE(store->claim_hook_events(1'000, 30'000, 0)->empty());
    EXPECT_FALSE(store->claim_hook_events(1'000, 0, 10));
}

TEST_F(HookInbox, AnExpiredLeaseIsClaimedAgainAndTheOldTokenWritesNothing) {
    ASSERT_TRUE(deliver(connect(a, "hubspot"), "e1"));
    const auto lost = claim(1'000, 5'000);
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_TRUE(claim(5'999).empty());
    const auto taken = claim(6'000, 5'000);
    ASSERT_EQ(taken.size(), 1u) << "a crashed processor's row is claimed again";
    EXPECT_EQ(taken[0].row.id, lost[0].row.id);
    EXPECT_NE(taken[0].claim_token, lost[0].claim_token);
    HookEventResult result;
    result.changes.push_back(rescheduled());
    auto late = store->finish_hook_event(lost[0].row.id, lost[0].claim_token, result, 7'000);
    ASSERT_TRUE(late) << late.error().message;
    EXPECT_EQ(late->status, Status::claim_lost);
    EXPECT_FALSE(*store->retry_hook_event(lost[0].row.id, lost[0].claim_token, 9'000, "late"));
    EXPECT_TRUE(store->list_crm_changes(a.id, std::nullopt, 10)->changes.empty());
    EXPECT_EQ(number("SELECT attempts FROM hook_inbox"), 0);
    EXPECT_EQ(text("SELECT processed_at FROM hook_inbox"), "NULL");
    auto done = store->finish_hook_event(taken[0].row.id, taken[0].claim_token, result, 7'000);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->status, Status::done);
}

TEST_F(HookInbox, FinishAppendsChangesLedgerStateAndOutcomeTogether) {
    ASSERT_TRUE(deliver(connect(a, "hubspot"), "e1"));
    remember(a, "hubspot", {{"appointment", "tour-1/P1", "appt-1", {}}, {"person", "buyer-1", "p-1", {}}});
    const auto claimed = claim(1'000);
    ASSERT_EQ(claimed.size(), 1u);
    HookEventResult result;
    result.changes = {rescheduled(), rescheduled()};
    result.changes[1].kind = "showing_cancelled";
    result.states = {{"appointment", "tour-1/P1", "", R"({"start":"2026-12-07T15:00:00Z"})"},
                     {"appointment", "tour-9/P1", "", "{}"}};   // no such ledger row: skipped
    auto done = store->finish_hook_event(claimed[0].row.id, claimed[0].claim_token, result, 2'000);
    ASSERT_TRUE(done) << done.error().message;
    ASSERT_EQ(done->status, Status::done);
    ASSERT_EQ(done->changes.size(), 2u);
    EXPECT_EQ(done->changes[0].seq, 1);
    EXPECT_EQ(done->changes[1].seq, 2);
    EXPECT_EQ(done->changes[0].id.rfind("chg_", 0), 0u);
    EXPECT_EQ(done->changes[0].recorded_at_ms, 2'000);
    EXPECT_EQ(done->changes[0].crm_type, "hubspot") << "an empty crm_type is the row's";
    auto log = store->list_crm_changes(a.id, std::nullopt, 10);
    ASSERT_EQ(log->changes.size(), 2u);
    EXPECT_EQ(log->changes[1].kind, "showing_cancelled");
    EXPECT_EQ(ledger_state(a, "hubspot", "tour-1/P1"), R"({"start":"2026-12-07T15:00:00Z"})");
    EXPECT_EQ(ledger_state(a, "hubspot", "buyer-1"), "") << "only the updated row changes";
    EXPECT_EQ(number("SELECT count(*) FROM sync_ledger WHERE local_id = 'tour-9/P1'"), 0);
    EXPECT_EQ(number("SELECT processed_at FROM hook_inbox"), 2'000);
    EXPECT_EQ(text("SELECT outcome FROM hook_inbox"), "processed");
    EXPECT_EQ(*store->pending_hook_events(), 0);
    EXPECT_TRUE(claim(1'000'000).empty()) << "a processed row is never claimed again";
    auto again = store->finish_hook_event(claimed[0].row.id, claimed[0].claim_token, result, 3'000);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, Status::claim_lost) << "already processed";
    EXPECT_EQ(store->list_crm_changes(a.id, std::nullopt, 10)->head, 2);
}

TEST_F(HookInbox, AMovedStateOrABadChangeWritesNothing) {
    ASSERT_TRUE(deliver(connect(a, "hubspot"), "e1"));
    remember(a, "hubspot", {{"appointment", "tour-1/P1", "appt-1", {}, "S1"}});
    const auto claimed = claim(1'000);
    ASSERT_EQ(claimed.size(), 1u);
    HookEventResult result;
    result.changes = {rescheduled()};
    result.states = {{"appointment", "tour-1/P1", "", "S2"}};   // read before another instance wrote S1
    auto moved = store->finish_hook_event(claimed[0].row.id, claimed[0].claim_token, result, 2'000);
    ASSERT_TRUE(moved) << moved.error().message;
    EXPECT_EQ(moved->status, Status::state_moved);
    EXPECT_TRUE(moved->changes.empty());
    result.states[0].expected_state = "S1";
    result.changes.push_back(rescheduled());
    result.changes.back().kind = "no_such_kind";
    auto bad = store->finish_hook_event(claimed[0].row.id, claimed[0].claim_token, result, 2'000);
    ASSERT_FALSE(bad) << "the second change is invalid";
    EXPECT_EQ(bad.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(ledger_state(a, "hubspot", "tour-1/P1"), "S1");
    EXPECT_EQ(store->list_crm_changes(a.id, std::nullopt, 10)->head, 0) << "not even the valid first change";
    EXPECT_EQ(text("SELECT processed_at FROM hook_inbox"), "NULL");
    result.changes.pop_back();
    auto done = store->finish_hook_event(claimed[0].row.id, claimed[0].claim_token, result, 2'000);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->status, Status::done) << "the claim survived both refusals";
    EXPECT_EQ(ledger_state(a, "hubspot", "tour-1/P1"), "S2");
    EXPECT_EQ(done->changes.at(0).seq, 1);

    result.outcome = "done";
    EXPECT_EQ(store->finish_hook_event(1, 1, result, 1).error().code, ErrorCode::invalid_argument);
    result.outcome = "dropped: ";
    EXPECT_EQ(store->finish_hook_event(1, 1, result, 1).error().code, ErrorCode::invalid_argument);
    result.outcome = "ignored";
    result.states = {{"appointment", "x", "", "1"}, {"appointment", "x", "", "2"}};
    EXPECT_EQ(store->finish_hook_event(1, 1, result, 1).error().code, ErrorCode::invalid_argument);
}

TEST_F(HookInbox, RetryCountsAttemptsDelaysAndEndsTheClaim) {
    ASSERT_TRUE(deliver(connect(a, "hubspot"), "e1"));
    const auto first = claim(1'000);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_TRUE(*store->retry_hook_event(first[0].row.id, first[0].claim_token, 10'000, "CRM answered 503"));
    EXPECT_FALSE(*store->retry_hook_event(first[0].row.id, first[0].claim_token, 10'000, "again")) << "given back";
    EXPECT_EQ(text("SELECT last_error FROM hook_inbox"), "CRM answered 503");
    EXPECT_TRUE(claim(9'999).empty()) << "not before retry_at";
    const auto second = claim(10'000);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].attempts, 1);
    // A long error keeps at most its first 1,000 bytes, cut between characters (byte 1,000 is in the middle of one).
    std::string long_error = "x";
    for (int i = 0; i < 700; ++i) long_error += "\xC3\xA9";   // U+00E9, two bytes
    ASSERT_TRUE(*store->retry_hook_event(second[0].row.id, second[0].claim_token, 20'000, long_error));
    EXPECT_EQ(text("SELECT last_error FROM hook_inbox"), long_error.substr(0, 999));
    const auto third = claim(20'000);
    ASSERT_EQ(third.size(), 1u);
    EXPECT_EQ(third[0].attempts, 2);
    EXPECT_EQ(*store->pending_hook_events(), 1);
}

TEST_F(HookInbox, AtStartUpSqliteTakesBackHeldClaimsButNotRowsBackingOff) {
    const auto route = connect(a, "hubspot");
    ASSERT_TRUE(deliver(route, "held"));
    ASSERT_TRUE(deliver(route, "backing-off"));
    const auto claimed = claim(1'000, 300'000);
    ASSERT_EQ(claimed.size(), 2u);
    ASSERT_TRUE(*store->retry_hook_event(claimed[1].row.id, claimed[1].claim_token, 90'000, "CRM answered 503"));
    ASSERT_TRUE(deliver(route, "never-claimed"));
    const auto released = store->release_interrupted_hook_claims(2'000);
    ASSERT_TRUE(released) << released.error().message;
    const auto taken = claim(2'000);
    std::set<std::string> events;
    for (const auto& e : taken) events.insert(e.row.delivery.event_id);
    if (on_postgresql()) {
        EXPECT_EQ(*released, 0u) << "a claim may be another live instance's";
        EXPECT_EQ(events, (std::set<std::string>{"never-claimed"}));
        return;
    }
    EXPECT_EQ(*released, 1u);
    EXPECT_EQ(events, (std::set<std::string>{"held", "never-claimed"})) << "the retry time of a failed row is kept";
    for (const auto& e : taken) {
        if (e.row.delivery.event_id == "held") {
            EXPECT_EQ(e.attempts, 0) << "an interrupted claim is not an attempt";
        }
    }
    HookEventResult result;
    auto late = store->finish_hook_event(claimed[0].row.id, claimed[0].claim_token, result, 3'000);
    ASSERT_TRUE(late) << late.error().message;
    EXPECT_EQ(late->status, Status::claim_lost) << "the dead process's token writes nothing";
    EXPECT_EQ(*store->release_interrupted_hook_claims(3'000), 2u) << "the claims just taken are held in turn";
}

TEST_F(HookInbox, AClaimThatLapsedAndWasClaimedAgainIsStillHeldAndItsGiveBackStillBacksOff) {
    ASSERT_TRUE(deliver(connect(a, "hubspot"), "e1"));
    const auto lapsed = claim(1'000, 5'000);
    ASSERT_EQ(lapsed.size(), 1u);
    const auto again = claim(6'000, 300'000);   // the same process, after its first lease ran out
    ASSERT_EQ(again.size(), 1u);
    EXPECT_GT(again[0].claim_token, lapsed[0].claim_token);
    EXPECT_EQ(again[0].claim_token % 2, 1) << "held: odd";
    ASSERT_TRUE(*store->retry_hook_event(again[0].row.id, again[0].claim_token, 90'000, "CRM answered 503"));
    EXPECT_EQ(*store->release_interrupted_hook_claims(7'000), 0u) << "backing off, not held";
    EXPECT_TRUE(claim(89'999).empty());
    const auto retried = claim(90'000, 300'000);
    ASSERT_EQ(retried.size(), 1u);
    if (on_postgresql()) return;
    EXPECT_EQ(*store->release_interrupted_hook_claims(91'000), 1u) << "held again after its retry";
    EXPECT_EQ(claim(91'000).size(), 1u);
}

TEST_F(HookInbox, RowsWhoseConnectionChangedAreDroppedNotHandedOut) {
    const HookRoute a_hubspot = connect(a, "hubspot", "cred-1");
    const HookRoute a_lofty = connect(a, "lofty", "cred-2");
    const HookRoute b_hubspot = connect(b, "hubspot", "cred-3");
    ASSERT_TRUE(deliver(a_hubspot, "e1"));
    ASSERT_TRUE(deliver(a_hubspot, "e2"));
    ASSERT_TRUE(deliver(b_hubspot, "e3"));
    ASSERT_TRUE(deliver(a_lofty, "e4"));
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "", bytes("cred-9")));   // re-pointed
    ASSERT_TRUE(store->delete_crm_connection(b.id, "hubspot"));                      // gone
    const auto claimed = claim(1'000, 30'000, 2);
    ASSERT_EQ(claimed.size(), 1u) << "the dropped rows leave room for the next one";
    EXPECT_EQ(claimed[0].row.delivery.event_id, "e4");
    EXPECT_EQ(number("SELECT count(*) FROM hook_inbox WHERE outcome = 'dropped: the CRM connection changed'"
                     " AND processed_at = 1000"),
              3);
    EXPECT_EQ(*store->pending_hook_events(), 1);
    EXPECT_EQ(claim(1'000'000).size(), 1u) << "only e4, whose lease expired";
}

// Two instances on one PostgreSQL database claim at once: each row goes to exactly one of them.
TEST_F(HookInbox, TwoInstancesClaimingAtOnceNeverShareARow) {
    if (!on_postgresql()) GTEST_SKIP() << "instances sharing a PostgreSQL database";
    const HookRoute ra = connect(a, "hubspot"), rb = connect(b, "hubspot", "cred-b");
    constexpr int kEvents = 160;
    for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(deliver(i % 2 ? rb : ra, "e" + std::to_string(i)));
    std::mutex mu;
    std::multiset<std::int64_t> claimed;
    std::string failure;
    const auto drain = [&](SqlStorage& s) {
        for (int round = 0; round < 500; ++round) {
            auto got = s.claim_hook_events(1'000, 600'000, 8);   // leases outlive the test: no row is re-offered
            if (!got) continue;   // busy: try again
            if (got->empty()) return;
            for (const auto& e : *got) {
                {
                    std::lock_guard lock(mu);
                    claimed.insert(e.row.id);
                }
                HookEventResult r;
                r.changes.push_back(rescheduled());
                r.outcome = "processed";
                auto f = s.finish_hook_event(e.row.id, e.claim_token, r, 2'000);
                std::lock_guard lock(mu);
                if (!f) failure = f.error().message;
                else if (f->status != Status::done) failure = "a finish lost its claim";
            }
        }
    };
    auto other = open_store();
    std::thread first([&] { drain(*store); });
    std::thread second([&] { drain(*other); });
    first.join();
    second.join();
    EXPECT_EQ(failure, "");
    EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kEvents));
    EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(), static_cast<std::size_t>(kEvents))
        << "a row was claimed twice";
    EXPECT_EQ(*store->pending_hook_events(), 0);
    EXPECT_EQ(store->list_crm_changes(a.id, std::nullopt, 1)->head, kEvents / 2);
    EXPECT_EQ(store->list_crm_changes(b.id, std::nullopt, 1)->head, kEvents / 2);
}

TEST_F(HookInbox, LedgerCrmStateIsKeptWhenAnUpsertBringsNoneAndReplacedByANewOne) {
    remember(a, "hubspot", {{"appointment", "tour-1/P1", "appt-1", {}, "S1"}});
    EXPECT_EQ(ledger_state(a, "hubspot", "tour-1/P1"), "S1");
    remember(a, "hubspot", {{"appointment", "tour-1/P1", "appt-1", hash(1)}});
    EXPECT_EQ(ledger_state(a, "hubspot", "tour-1/P1"), "S1") << "an upsert without a state keeps it";
    remember(a, "hubspot", {{"appointment", "tour-1/P1", "", {}, "S2"}});
    EXPECT_EQ(ledger_state(a, "hubspot", "tour-1/P1"), "S2");
    auto visits = store->sync_ledger_visits(a.id, "hubspot", "tour-1");
    ASSERT_TRUE(visits && visits->size() == 1u);
    EXPECT_EQ(visits->front().crm_state, "S2");
    EXPECT_EQ(visits->front().external_id, "appt-1");
    EXPECT_EQ(visits->front().payload_hash, hash(1));
}

// written_state is what the CRM answered our last write: set with crm_state by a sync attempt's upsert, kept when
// one brings none, and never moved by processing (a difference between the two is an edit in the CRM).
TEST_F(HookInbox, LedgerWrittenStateMovesWithOurWritesOnly) {
    ASSERT_TRUE(deliver(connect(a, "hubspot"), "e1"));
    remember(a, "hubspot", {{"appointment", "tour-1/P1", "appt-1", {}, "S1"}});
    const auto written = [&] { return store->sync_ledger(a.id, "hubspot", {"tour-1/P1"})->front().written_state; };
    EXPECT_EQ(written(), "S1");
    const auto claimed = claim(1'000);
    ASSERT_EQ(claimed.size(), 1u);
    HookEventResult result;
    result.states = {{"appointment", "tour-1/P1", "S1", "S2"}};
    auto done = store->finish_hook_event(claimed[0].row.id, claimed[0].claim_token, result, 2'000);
    ASSERT_TRUE(done) << done.error().message;
    ASSERT_EQ(done->status, Status::done);
    EXPECT_EQ(ledger_state(a, "hubspot", "tour-1/P1"), "S2");
    EXPECT_EQ(written(), "S1") << "processing moves crm_state alone";
    remember(a, "hubspot", {{"appointment", "tour-1/P1", "appt-1", hash(1)}});
    EXPECT_EQ(written(), "S1") << "an upsert without a state keeps it";
    remember(a, "hubspot", {{"appointment", "tour-1/P1", "appt-1", {}, "S3"}});
    EXPECT_EQ(written(), "S3");
    EXPECT_EQ(ledger_state(a, "hubspot", "tour-1/P1"), "S3");
    EXPECT_EQ(store->ledger_by_external_ids(a.id, "hubspot", "appointment", {"appt-1"})->front().written_state, "S3");
    EXPECT_EQ(store->sync_ledger_visits(a.id, "hubspot", "tour-1")->front().written_state, "S3");
}

TEST_F(HookInbox, LedgerByExternalIdsFiltersByTenantCrmAndKind) {
    remember(a, "hubspot", {{"appointment", "tour-1/P1", "X1", {}, "S1"}, {"person", "buyer-1", "X1", {}},
                            {"appointment", "tour-1/P2", "X2", {}}});
    remember(a, "lofty", {{"appointment", "tour-1/P3", "X1", {}}});
    remember(b, "hubspot", {{"appointment", "tour-1/P4", "X1", {}}});
    auto rows = store->ledger_by_external_ids(a.id, "hubspot", "appointment", {"X1", "X3", "X1"});
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(rows->front().local_id, "tour-1/P1");
    EXPECT_EQ(rows->front().external_id, "X1");
    EXPECT_EQ(rows->front().entity_kind, "appointment");
    EXPECT_EQ(rows->front().crm_state, "S1");
    EXPECT_TRUE(store->ledger_by_external_ids(a.id, "hubspot", "appointment", {})->empty());
    std::vector<std::string> many;
    for (int i = 0; i < 999; ++i) many.push_back("none-" + std::to_string(i));
    many.push_back("X2");   // past the first chunks
    auto found = store->ledger_by_external_ids(a.id, "hubspot", "appointment", many);
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ(found->front().local_id, "tour-1/P2");
    many.push_back("X1");
    auto refused = store->ledger_by_external_ids(a.id, "hubspot", "appointment", many);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::invalid_argument);
}

TEST_F(HookInbox, TrimDeletesOnlyOldProcessedRowsInBoundedSteps) {
    const HookRoute route = connect(a, "hubspot");
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(deliver(route, "old" + std::to_string(i)));
    for (const auto& e : claim(1'000)) {
        HookEventResult ignored;
        ignored.outcome = "ignored";
        ASSERT_EQ(store->finish_hook_event(e.row.id, e.claim_token, ignored, 1'000)->status, Status::done);
    }
    ASSERT_TRUE(deliver(route, "recent"));
    const auto recent = claim(3'000);
    ASSERT_EQ(recent.size(), 1u);
    ASSERT_EQ(store->finish_hook_event(recent[0].row.id, recent[0].claim_token, HookEventResult{}, 5'000)->status,
              Status::done);
    ASSERT_TRUE(deliver(route, "pending", 100));   // old, but not processed
    EXPECT_EQ(*store->trim_hook_inbox(2'000, 3), 3u);
    EXPECT_EQ(*store->trim_hook_inbox(2'000, 3), 1u);
    EXPECT_EQ(*store->trim_hook_inbox(2'000, 3), 0u);
    EXPECT_EQ(number("SELECT count(*) FROM hook_inbox"), 2);
    EXPECT_FALSE(deliver(route, "recent")) << "a kept row still deduplicates a redelivery";
    EXPECT_TRUE(deliver(route, "old0")) << "a trimmed one no longer does";
    EXPECT_EQ(*store->pending_hook_events(), 2);
}

TEST_F(HookInbox, ATenantsDeletionRemovesItsInboxRows) {
    ASSERT_TRUE(deliver(connect(a, "hubspot"), "e1"));
    ASSERT_TRUE(deliver(connect(b, "hubspot", "cred-b"), "e1"));
    exec_raw("DELETE FROM tenants WHERE id = '" + a.id + "'");
    EXPECT_EQ(number("SELECT count(*) FROM hook_inbox WHERE tenant_id = '" + a.id + "'"), 0);
    EXPECT_EQ(*store->pending_hook_events(), 1);
    const auto claimed = claim(1'000);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].tenant_id, b.id);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
