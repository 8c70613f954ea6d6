// Fixture for the tests of Rollout webhooks in the store (test_hook_inbox.cpp, test_hook_polls.cpp): the outbox
// fixture's two teams, plus connecting a team's CRM with a webhook route, claiming inbox rows, writing ledger rows as
// a sync attempt writes them, and reading single values straight from the database.
#pragma once

#include "tests/storage/outbox_fixture.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace rollout_mcp::storage::test {

class HookStoreTest : public Outbox {
protected:
    // The team's connection to `crm` holding `credential`, and a route issued for it.
    HookRoute connect(const Tenant& t, const std::string& crm, const std::string& credential = "cred-1") {
        if (!store->put_crm_connection(t.id, crm, "", bytes(credential))) throw std::runtime_error("connect");
        auto issued = store->issue_hook_route(t.id, crm);
        if (!issued) throw std::runtime_error(issued.error().message);
        auto route = store->find_hook_route(issued->text());
        if (!route) throw std::runtime_error(route.error().message);
        return *route;
    }
    std::vector<ClaimedHookEvent> claim(std::int64_t now_ms, std::int64_t lease_ms = 30'000, std::size_t limit = 10) {
        auto r = store->claim_hook_events(now_ms, lease_ms, limit);
        if (!r) throw std::runtime_error(r.error().message);
        return std::move(*r);
    }
    // Ledger rows written as a sync attempt writes them.
    void remember(const Tenant& t, const std::string& crm, std::vector<LedgerEntry> ledger) {
        const auto ids = enqueue(t, {job("tour-1", crm)}, 1'000);
        auto c = store->claim_sync_jobs(ids, 1'000, 9'000);
        if (!c || c->size() != 1) throw std::runtime_error("claim failed");
        auto f = store->finish_sync_attempt(ids[0], c->front().claim_token, Outcome(Next::succeed).ledger(ledger),
                                            1'000);
        if (!f) throw std::runtime_error(f.error().message);
    }
    std::string text(const std::string& sql) {
        auto db = raw();
        Statement st = db->prepare(sql);
        return st.step() ? (st.is_null(0) ? "NULL" : st.text(0)) : "no row";
    }
    std::int64_t number(const std::string& sql) {
        auto db = raw();
        Statement st = db->prepare(sql);
        return st.step() ? st.int64(0) : -1;
    }
};

}  // namespace rollout_mcp::storage::test
