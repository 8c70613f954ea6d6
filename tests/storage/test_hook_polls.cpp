// Webhook subscription state, reconcile leases and the polling fallback in the store, on SQLite and PostgreSQL
// (storage/sql_hook_polls.cpp): the subscribed flag and what clears it (a new route, another credential); leases on
// unsubscribed connections, with or without a route, one holder at a time; polling rounds that hand the least
// recently checked ledger rows to the webhook processor as synthetic inbox rows, within a team's budget and interval,
// never across teams, and never one row twice when two instances poll at once.
#include "tests/storage/hook_fixture.hpp"

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

namespace rollout_mcp::storage::test {
namespace {

class HookPolls : public HookStoreTest {
protected:
    std::optional<bool> subscribed(const Tenant& t, const std::string& crm) {
        auto r = store->hook_subscribed(t.id, crm);
        if (!r) throw std::runtime_error(r.error().message);
        return *r;
    }
    void set_subscribed(const Tenant& t, const std::string& crm, bool value) {
        auto r = store->set_hook_subscribed(t.id, crm, value, 1'000);
        if (!r) throw std::runtime_error(r.error().message);
    }
    // The claimed connections as "<tenant>/<crm>", in the answer's order.
    std::vector<std::string> lease(std::int64_t now_ms, std::size_t limit = 10, std::int64_t lease_ms = 5'000) {
        auto r = store->claim_unsubscribed_connections(now_ms, lease_ms, limit);
        if (!r) throw std::runtime_error(r.error().message);
        std::vector<std::string> out;
        for (const auto& c : *r) out.push_back(c.tenant_id + "/" + c.crm_type);
        return out;
    }
    std::size_t poll(std::int64_t now_ms, std::size_t per_tenant = 100, bool all_connections = false,
                     std::int64_t min_interval_ms = 60'000) {
        auto r = store->enqueue_ledger_polls(now_ms, per_tenant, min_interval_ms, all_connections);
        if (!r) throw std::runtime_error(r.error().message);
        return *r;
    }
    // The team's inbox rows received at `now_ms`, as "<crm> <event> <resource ids>".
    std::vector<std::string> polled(const Tenant& t, std::int64_t now_ms) {
        std::vector<std::string> out;
        for (const auto& row : *store->list_hook_inbox(t.id, 1'000))
            if (row.received_at == now_ms)
                out.push_back(row.crm_type + " " + row.delivery.event + " " + row.delivery.resource_ids_json);
        return out;
    }
    static std::vector<LedgerEntry> appointments(const std::string& prefix, int n) {
        std::vector<LedgerEntry> out;
        for (int i = 1; i <= n; ++i)
            out.push_back({"appointment", "tour-1/P" + std::to_string(i), prefix + std::to_string(i), {}});
        return out;
    }
};

TEST_F(HookPolls, TheSubscribedFlagIsSetClearedAndResetByANewRouteOrAnotherCredential) {
    EXPECT_EQ(subscribed(a, "hubspot"), std::nullopt) << "no such connection";
    connect(a, "hubspot");
    EXPECT_EQ(subscribed(a, "hubspot"), false);
    set_subscribed(a, "hubspot", true);
    EXPECT_EQ(subscribed(a, "hubspot"), true);
    EXPECT_EQ(subscribed(b, "hubspot"), std::nullopt) << "another team's connection";
    set_subscribed(a, "hubspot", false);
    EXPECT_EQ(subscribed(a, "hubspot"), false);
    set_subscribed(a, "hubspot", true);
    ASSERT_TRUE(store->issue_hook_route(a.id, "hubspot"));
    EXPECT_EQ(subscribed(a, "hubspot"), false) << "a new route starts unsubscribed";
    set_subscribed(a, "hubspot", true);
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "relabelled", bytes("cred-1")));
    EXPECT_EQ(subscribed(a, "hubspot"), true) << "the same credential keeps its subscriptions";
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "", bytes("cred-2")));
    EXPECT_EQ(subscribed(a, "hubspot"), false) << "the route's subscriptions are on the old credential";

    ASSERT_TRUE(store->put_crm_connection(a.id, "lofty", "", bytes("cred-3")));   // no route yet
    auto no_route = store->set_hook_subscribed(a.id, "lofty", true, 1'000);
    ASSERT_FALSE(no_route);
    EXPECT_EQ(no_route.error().code, ErrorCode::not_found);
    EXPECT_TRUE(store->set_hook_subscribed(a.id, "lofty", false, 1'000)) << "nothing was subscribed";
    EXPECT_EQ(subscribed(a, "lofty"), false);

    connect(a, "follow_up_boss", "cred-4");
    set_subscribed(a, "follow_up_boss", true);
    connect(b, "hubspot", "cred-5");
    const auto counts = store->hook_subscription_counts();
    ASSERT_TRUE(counts) << counts.error().message;
    EXPECT_EQ(counts->first, 1) << "a's follow_up_boss";
    EXPECT_EQ(counts->second, 3) << "a's hubspot (re-pointed) and lofty, b's hubspot";
}

TEST_F(HookPolls, ClaimLeasesUnsubscribedConnectionsWithOrWithoutARouteOneHolderAtATime) {
    connect(a, "hubspot");
    set_subscribed(a, "hubspot", true);
    connect(a, "lofty", "cred-2");                                             // a route, not subscribed
    ASSERT_TRUE(store->put_crm_connection(b.id, "hubspot", "", bytes("cred-3")));   // never had a route
    const std::string a_lofty = a.id + "/lofty", b_hubspot = b.id + "/hubspot";

    auto first = lease(1'000);
    std::sort(first.begin(), first.end());
    EXPECT_EQ(first, (std::vector<std::string>{std::min(a_lofty, b_hubspot), std::max(a_lofty, b_hubspot)}))
        << "the subscribed connection is left out";
    EXPECT_TRUE(lease(2'000).empty()) << "both leases run until 6,000";
    EXPECT_TRUE(lease(5'999).empty());
    EXPECT_EQ(lease(6'000).size(), 2u) << "expired leases are claimed again";

    // Least recently attempted first: one connection attempted at 20,000, the other at 21,000.
    const auto early = lease(20'000, 1);
    ASSERT_EQ(early.size(), 1u);
    const auto late = lease(21'000, 1);
    ASSERT_EQ(late.size(), 1u);
    EXPECT_NE(early, late);
    EXPECT_EQ(lease(30'000, 1), early);
    EXPECT_EQ(lease(30'000, 1), late);

    set_subscribed(a, "lofty", true);
    EXPECT_EQ(lease(100'000), std::vector<std::string>{b_hubspot}) << "subscribed since";
    EXPECT_TRUE(store->claim_unsubscribed_connections(200'000, 5'000, 0)->empty());
    auto refused = store->claim_unsubscribed_connections(200'000, 0, 10);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::invalid_argument);
    ASSERT_TRUE(store->delete_crm_connection(b.id, "hubspot"));
    EXPECT_EQ(number("SELECT count(*) FROM hook_reconcile WHERE tenant_id = '" + b.id + "'"), 0)
        << "the lease goes with its connection";
    EXPECT_TRUE(lease(300'000).empty());
}

TEST_F(HookPolls, ARoundEnqueuesOneClaimableRowPerKindUnderTheConnectionsCredential) {
    const HookRoute route = connect(a, "hubspot");
    remember(a, "hubspot",
             {{"person", "buyer-1", "p-1", {}},
              {"person", "buyer-2", R"(p-"2\)", {}},          // escaped in the JSON array
              {"person", "tour-tour-1", "p-1", {}},           // the same CRM person twice: named once
              {"appointment", "tour-1/P1", "appt-1", {}},
              {"appointment", "tour-1/P2", "", {}},           // no CRM id: nothing to read
              {"task", "tour-1/P3", "task-3", {}},
              {"note", "note-1", "n-1", {}},                  // not a kind the processor re-reads
              {"tour", "tour-1", "", hash(1)}});
    EXPECT_EQ(poll(100'000), 3u);
    EXPECT_EQ(polled(a, 100'000), (std::vector<std::string>{R"(hubspot peopleUpdated ["p-1","p-\"2\\"])",
                                                             R"(hubspot appointmentsUpdated ["appt-1"])",
                                                             R"(hubspot tasksUpdated ["task-3"])"}));
    const auto claimed = claim(100'000);
    ASSERT_EQ(claimed.size(), 3u) << "the processor takes them like deliveries";
    std::set<std::string> event_ids;
    for (const auto& e : claimed) {
        EXPECT_EQ(e.tenant_id, a.id);
        EXPECT_EQ(e.row.crm_type, "hubspot");
        EXPECT_EQ(e.credential_fingerprint, route.credential_fingerprint);
        EXPECT_EQ(e.row.delivery.event_created, "");
        EXPECT_EQ(e.row.delivery.event_id.rfind("poll:", 0), 0u) << e.row.delivery.event_id;
        EXPECT_LE(e.row.delivery.event_id.size(), 200u);
        event_ids.insert(e.row.delivery.event_id);
        HookEventResult ignored;
        ignored.outcome = "ignored";
        auto done = store->finish_hook_event(e.row.id, e.claim_token, ignored, 100'000);
        ASSERT_TRUE(done) << done.error().message;
        EXPECT_EQ(done->status, FinishedHookEvent::Status::done);
    }
    EXPECT_EQ(event_ids.size(), 3u);
    EXPECT_EQ(number("SELECT checked_at FROM sync_ledger WHERE local_id = 'tour-1/P1'"), 100'000);
    EXPECT_EQ(number("SELECT checked_at FROM sync_ledger WHERE local_id = 'note-1'"), 0);
}

TEST_F(HookPolls, RoundsKeepTheTeamsBudgetAndIntervalLeastRecentlyCheckedFirst) {
    connect(a, "hubspot");
    remember(a, "hubspot", appointments("appt-", 5));
    EXPECT_EQ(poll(10'000, 2), 1u);
    EXPECT_EQ(polled(a, 10'000), std::vector<std::string>{R"(hubspot appointmentsUpdated ["appt-1","appt-2"])"});
    EXPECT_EQ(poll(11'000, 2), 1u);
    EXPECT_EQ(polled(a, 11'000), std::vector<std::string>{R"(hubspot appointmentsUpdated ["appt-3","appt-4"])"});
    EXPECT_EQ(poll(12'000, 2), 1u);
    EXPECT_EQ(polled(a, 12'000), std::vector<std::string>{R"(hubspot appointmentsUpdated ["appt-5"])"});
    EXPECT_EQ(poll(12'000, 2), 0u) << "every row was checked within the interval";
    EXPECT_EQ(poll(69'999, 2), 0u);
    EXPECT_EQ(poll(70'000, 2), 1u) << "the interval passed for the first two";
    EXPECT_EQ(polled(a, 70'000), std::vector<std::string>{R"(hubspot appointmentsUpdated ["appt-1","appt-2"])"});
    EXPECT_EQ(poll(200'000, 2), 1u);
    EXPECT_EQ(polled(a, 200'000), std::vector<std::string>{R"(hubspot appointmentsUpdated ["appt-3","appt-4"])"})
        << "least recently checked first";

    for (const auto& [per_tenant, interval] : {std::pair<std::size_t, std::int64_t>{0, 1}, {1'001, 1}, {10, 0}}) {
        auto refused = store->enqueue_ledger_polls(300'000, per_tenant, interval, false);
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error().code, ErrorCode::invalid_argument);
    }
}

TEST_F(HookPolls, WithABudgetWindowRowsAnyRoundCheckedInItUseUpTheTeamsBudget) {
    connect(a, "hubspot");
    remember(a, "hubspot", appointments("appt-", 6));
    const auto round = [&](std::int64_t now) {
        auto n = store->enqueue_ledger_polls(now, 2, 60'000, true, 5'000);
        EXPECT_TRUE(n) << n.error().message;
        return n ? *n : 0;
    };
    EXPECT_EQ(round(10'000), 1u);
    // Another instance's round in the same window: the team's 2 rows are spent, whoever spent them.
    EXPECT_EQ(round(10'001), 0u);
    EXPECT_EQ(round(14'999), 0u);
    EXPECT_EQ(round(15'001), 1u) << "the window moved past the first round";
    EXPECT_EQ(polled(a, 15'001), std::vector<std::string>{R"(hubspot appointmentsUpdated ["appt-3","appt-4"])"});
}

TEST_F(HookPolls, RoundsSkipSubscribedConnectionsUnlessAskedAndSpreadATeamsBudgetOverItsConnections) {
    connect(a, "hubspot");
    set_subscribed(a, "hubspot", true);
    connect(a, "lofty", "cred-2");
    remember(a, "hubspot", appointments("h-", 3));
    remember(a, "lofty", appointments("l-", 3));
    EXPECT_EQ(poll(10'000), 1u);
    EXPECT_EQ(polled(a, 10'000), std::vector<std::string>{R"(lofty appointmentsUpdated ["l-1","l-2","l-3"])"});
    EXPECT_EQ(poll(20'000, 100, true), 1u) << "lofty's rows were checked within the interval";
    EXPECT_EQ(polled(a, 20'000), std::vector<std::string>{R"(hubspot appointmentsUpdated ["h-1","h-2","h-3"])"});

    EXPECT_EQ(poll(100'000, 4, true), 2u);
    EXPECT_EQ(polled(a, 100'000), (std::vector<std::string>{R"(hubspot appointmentsUpdated ["h-1","h-2"])",
                                                             R"(lofty appointmentsUpdated ["l-1","l-2"])"}))
        << "round-robin over the team's connections";
    ASSERT_TRUE(store->delete_crm_connection(a.id, "lofty"));
    EXPECT_EQ(poll(1'000'000, 100, true), 1u) << "a removed connection's ledger went with it";
}

TEST_F(HookPolls, RoundsNeverCrossTeams) {
    const HookRoute ra = connect(a, "hubspot"), rb = connect(b, "hubspot", "cred-b");
    remember(a, "hubspot", appointments("a-", 3));
    remember(b, "hubspot", appointments("b-", 3));
    EXPECT_EQ(poll(10'000, 2), 2u) << "each team has its own budget";
    EXPECT_EQ(polled(a, 10'000), std::vector<std::string>{R"(hubspot appointmentsUpdated ["a-1","a-2"])"});
    EXPECT_EQ(polled(b, 10'000), std::vector<std::string>{R"(hubspot appointmentsUpdated ["b-1","b-2"])"});
    for (const auto& e : claim(10'000)) {
        const bool of_a = e.tenant_id == a.id;
        EXPECT_EQ(e.credential_fingerprint, of_a ? ra.credential_fingerprint : rb.credential_fingerprint);
        EXPECT_EQ(e.row.delivery.resource_ids_json.find(of_a ? "b-" : "a-"), std::string::npos);
    }
    set_subscribed(b, "hubspot", true);
    EXPECT_EQ(poll(11'000, 2), 1u);
    EXPECT_EQ(polled(a, 11'000), std::vector<std::string>{R"(hubspot appointmentsUpdated ["a-3"])"});
    EXPECT_TRUE(polled(b, 11'000).empty()) << "b is subscribed";
}

// Two instances on one PostgreSQL database run the reconcile loop at once: each connection has one holder.
TEST_F(HookPolls, TwoInstancesClaimingAtOnceNeverLeaseOneConnectionTwice) {
    if (!on_postgresql()) GTEST_SKIP() << "instances sharing a PostgreSQL database";
    std::set<std::string> expected;
    for (const Tenant* t : {&a, &b}) {
        for (int i = 0; i < 12; ++i) {
            const std::string crm = "crm-" + std::to_string(i);
            if (i % 2) connect(*t, crm, t->id + crm);   // a route, never subscribed
            else ASSERT_TRUE(store->put_crm_connection(t->id, crm, "", bytes(t->id + crm)));
            expected.insert(t->id + "/" + crm);
        }
    }
    std::mutex mu;
    std::multiset<std::string> leased;
    std::string failure;
    const auto drain = [&](SqlStorage& s) {
        for (int idle = 0, round = 0; idle < 3 && round < 1'000; ++round) {
            auto got = s.claim_unsubscribed_connections(1'000, 600'000, 3);   // leases outlive the test
            std::lock_guard lock(mu);
            if (!got) {
                failure = got.error().message;
                return;
            }
            idle = got->empty() ? idle + 1 : 0;
            for (const auto& c : *got) leased.insert(c.tenant_id + "/" + c.crm_type);
        }
    };
    auto other = open_store();
    std::thread first([&] { drain(*store); });
    std::thread second([&] { drain(*other); });
    first.join();
    second.join();
    ASSERT_EQ(failure, "");
    for (auto rest = lease(1'000); !rest.empty(); rest = lease(1'000)) leased.insert(rest.begin(), rest.end());
    EXPECT_EQ(leased.size(), expected.size()) << "a connection was leased twice";
    EXPECT_EQ(std::set<std::string>(leased.begin(), leased.end()), expected);
}

// Two instances on one PostgreSQL database poll at once: each ledger row is handed out once in the round.
TEST_F(HookPolls, TwoInstancesPollingAtOnceNeverHandOutOneRowTwice) {
    if (!on_postgresql()) GTEST_SKIP() << "instances sharing a PostgreSQL database";
    constexpr int kRows = 120;
    std::set<std::string> expected;
    for (const Tenant* t : {&a, &b}) {
        for (const std::string crm : {"hubspot", "lofty"}) {
            connect(*t, crm, t->id + crm);
            const std::string prefix = t->id + "." + crm + ".";
            remember(*t, crm, appointments(prefix, kRows));
            for (int i = 1; i <= kRows; ++i) expected.insert(prefix + std::to_string(i));
        }
    }
    std::mutex mu;
    std::string failure;
    const auto drain = [&](SqlStorage& s) {
        for (int idle = 0, round = 0; idle < 3 && round < 1'000; ++round) {
            auto got = s.enqueue_ledger_polls(10'000, 7, 1'000'000, false);   // one round: every row once
            if (!got) {
                std::lock_guard lock(mu);
                failure = got.error().message;
                return;
            }
            idle = *got == 0 ? idle + 1 : 0;
        }
    };
    auto other = open_store();
    std::thread first([&] { drain(*store); });
    std::thread second([&] { drain(*other); });
    first.join();
    second.join();
    ASSERT_EQ(failure, "");
    while (poll(10'000, 7, false, 1'000'000) > 0) {
    }   // rows one call locked but left for later, which the other skipped
    std::multiset<std::string> handed;
    for (const Tenant* t : {&a, &b}) {
        for (const auto& row : *store->list_hook_inbox(t->id, 10'000)) {
            std::string ids = row.delivery.resource_ids_json;   // ["id","id",...]: no id needs escaping here
            ids = ids.substr(1, ids.size() - 2);
            for (std::size_t from = 0; from < ids.size();) {
                const std::size_t comma = std::min(ids.find(',', from), ids.size());
                handed.insert(ids.substr(from + 1, comma - from - 2));
                from = comma + 1;
            }
        }
    }
    EXPECT_EQ(handed.size(), expected.size()) << "a row was handed out twice, or not at all";
    EXPECT_EQ(std::set<std::string>(handed.begin(), handed.end()), expected);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
