// The CRM change log and Events subscriptions in the store, on SQLite and PostgreSQL: per-team numbering and
// cursors (in order, never skipping a change that commits late, never showing another team's), the per-team cap
// and age retention answered as truncated, and webhook subscriptions claimed under a fencing token.
#include "tests/storage/storage_fixture.hpp"

#include <chrono>
#include <future>
#include <thread>

namespace rollout_mcp::storage::test {
namespace {

class Changes : public TwoTeamsTest {
protected:
    static CrmChange change(const std::string& tour, const std::string& kind = "showing_rescheduled") {
        CrmChange c;
        c.kind = kind;
        c.tour_id = tour;
        c.visit_id = tour + "/P1";
        c.buyer_id = "B1";
        c.fields_json = R"({"start":"2026-12-07T15:00:00Z"})";
        c.crm_type = "gohighlevel";
        c.record_id = "appt-" + tour;
        c.occurred_at_ms = 500;
        return c;
    }
    std::int64_t append(const Tenant& t, const std::string& tour, std::int64_t now = 1'000) {
        auto r = store->append_crm_change(t.id, change(tour), now);
        if (!r) throw std::runtime_error(r.error().message);
        return r->seq;
    }
};

TEST_F(Changes, PagesInOrderPerTeamFromACursor) {
    for (int i = 1; i <= 5; ++i) EXPECT_EQ(append(a, "T" + std::to_string(i)), i);
    EXPECT_EQ(append(b, "X1"), 1) << "each team numbers its own log";
    auto first = store->list_crm_changes(a.id, std::nullopt, 2);
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_EQ(first->changes.size(), 2u);
    EXPECT_EQ(first->changes[0].tour_id, "T1");
    EXPECT_EQ(first->changes[1].tour_id, "T2");
    EXPECT_EQ(first->cursor, 2);
    EXPECT_EQ(first->head, 5);
    EXPECT_FALSE(first->truncated);
    EXPECT_EQ(first->changes[0].fields_json, R"({"start":"2026-12-07T15:00:00Z"})");
    EXPECT_EQ(first->changes[0].recorded_at_ms, 1'000);
    EXPECT_EQ(first->changes[0].id.rfind("chg_", 0), 0u);
    auto rest = store->list_crm_changes(a.id, first->cursor, 100);
    ASSERT_TRUE(rest);
    ASSERT_EQ(rest->changes.size(), 3u);
    EXPECT_EQ(rest->changes.back().tour_id, "T5");
    auto none = store->list_crm_changes(a.id, rest->cursor, 100);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->changes.empty());
    EXPECT_EQ(none->cursor, 5) << "no change: the cursor stays";
    auto other = store->list_crm_changes(b.id, std::nullopt, 100);
    ASSERT_TRUE(other);
    ASSERT_EQ(other->changes.size(), 1u);
    EXPECT_EQ(other->changes[0].tour_id, "X1") << "team b never sees team a's changes";
}

TEST_F(Changes, ACursorAheadOfTheLogOrNegativeIsRefused) {
    append(a, "T1");
    append(b, "X1");
    append(b, "X2");
    for (std::int64_t bad : {std::int64_t{2}, std::int64_t{-1}}) {
        auto r = store->list_crm_changes(a.id, bad, 10);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::invalid_argument);
    }
    auto empty = store->list_crm_changes(a.id, 1, 10);
    EXPECT_TRUE(empty && empty->changes.empty());
}

TEST_F(Changes, InvalidChangesAreRefusedNamingTheField) {
    auto c = change("T1");
    c.kind = "showing_exploded";
    auto r = store->append_crm_change(a.id, c, 1);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("kind"), std::string::npos);
    c = change("T1");
    c.fields_json = "[1]";
    r = store->append_crm_change(a.id, c, 1);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("fields"), std::string::npos);
    c.fields_json = "{not json";
    r = store->append_crm_change(a.id, c, 1);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("fields"), std::string::npos);
    EXPECT_FALSE(store->append_crm_change("t_nosuchteam000000000000000", change("T1"), 1));
}

TEST_F(Changes, TheCapKeepsTheNewestAndAnOldCursorIsTruncated) {
    StorageLimits limits;
    limits.max_changes_per_tenant = 3;
    store->set_limits(limits);
    for (int i = 1; i <= 5; ++i) append(a, "T" + std::to_string(i));
    append(b, "X1");
    auto from_start = store->list_crm_changes(a.id, std::nullopt, 10);
    ASSERT_TRUE(from_start);
    ASSERT_EQ(from_start->changes.size(), 3u);
    EXPECT_EQ(from_start->changes.front().seq, 3);
    EXPECT_FALSE(from_start->truncated) << "no cursor: the oldest kept change is the start";
    auto old = store->list_crm_changes(a.id, 1, 10);
    ASSERT_TRUE(old);
    EXPECT_TRUE(old->truncated) << "change 2 was trimmed after cursor 1";
    EXPECT_EQ(old->changes.front().seq, 3);
    auto exact = store->list_crm_changes(a.id, 2, 10);
    ASSERT_TRUE(exact);
    EXPECT_FALSE(exact->truncated) << "nothing after cursor 2 is missing";
    EXPECT_EQ(store->list_crm_changes(b.id, 0, 10)->changes.size(), 1u) << "the cap is per team";
}

TEST_F(Changes, AgeRetentionTrimsInBoundedStepsAndMarksTruncation) {
    for (int i = 1; i <= 4; ++i) append(a, "T" + std::to_string(i), 1'000 * i);
    append(b, "X1", 500);
    std::size_t total = 0;
    for (int step = 0; step < 10; ++step) {
        auto n = store->trim_crm_changes(2'500, 1);
        ASSERT_TRUE(n) << n.error().message;
        if (*n == 0) break;
        EXPECT_EQ(*n, 1u) << "at most max_rows a step";
        total += *n;
    }
    EXPECT_EQ(total, 3u) << "T1, T2 and X1 were older than 2.5 s";
    auto page = store->list_crm_changes(a.id, 0, 10);
    ASSERT_TRUE(page);
    EXPECT_TRUE(page->truncated);
    ASSERT_EQ(page->changes.size(), 2u);
    EXPECT_EQ(page->changes.front().tour_id, "T3");
    EXPECT_TRUE(store->list_crm_changes(b.id, 0, 10)->truncated);
}

// The guarantee cursors rest on: a change that commits after a later-numbered one would be skipped by a reader
// that moved past it. An append held open in another connection blocks the team's next append until it commits,
// and a reader meanwhile sees neither.
TEST_F(Changes, AnAppendHeldOpenIsNeverSkippedByAReader) {
    append(a, "T1");
    auto second = open_store();
    auto held = raw();
    held->begin();
    held->exec(("UPDATE crm_change_counters SET last_seq = last_seq + 1 WHERE tenant_id = '" + a.id + "'").c_str());
    held->exec(("INSERT INTO crm_changes(tenant_id, seq, id, kind, fields, crm_type, occurred_at, recorded_at)"
                " VALUES ('" + a.id + "', 2, 'chg_heldheldheldheldheld1', 'buyer_updated', '{}', 'gohighlevel', 1, 1)")
                   .c_str());
    auto later = std::async(std::launch::async, [&] { return second->append_crm_change(a.id, change("T3"), 2'000); });
    EXPECT_EQ(later.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
        << "the team's next append waits for the open one";
    auto seen = store->list_crm_changes(a.id, 1, 10);
    ASSERT_TRUE(seen) << seen.error().message;
    EXPECT_TRUE(seen->changes.empty()) << "nothing uncommitted, nothing past it";
    held->commit();
    auto third = later.get();
    ASSERT_TRUE(third) << third.error().message;
    EXPECT_EQ(third->seq, 3);
    auto page = store->list_crm_changes(a.id, 1, 10);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->changes.size(), 2u);
    EXPECT_EQ(page->changes[0].seq, 2);
    EXPECT_EQ(page->changes[1].seq, 3);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
