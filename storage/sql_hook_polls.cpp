// SqlStorage: whether a CRM connection's Rollout webhook subscriptions are in place, the reconcile loop's leases on
// the connections whose are not, and the polling fallback for them (issue 20; storage/hooks.hpp, "What the Storage
// calls do"). Polling re-reads the ledger's records through the webhook processor itself: a round enqueues synthetic
// inbox rows naming the records, so fetching, comparing and recording changes stay in one place
// (server/sync/hook_processor.cpp). Several instances run both loops on one database (docs/ARCHITECTURE.md, "Several
// instances"): a connection's lease is taken by compare-and-set, and on PostgreSQL a round locks the ledger rows it
// hands out (FOR UPDATE SKIP LOCKED), so concurrent rounds never hand out one row twice.
#include "storage/sql_storage.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <set>
#include <tuple>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

namespace {

// The processor reads a delivery's ledger rows in one ledger_by_external_ids call, which takes at most 1,000 ids.
constexpr std::size_t kMaxPollsPerTenant = 1'000;

// The ledger kinds a webhook can report on, with the CRM collection that names its events
// (server/sync/hook_processor.cpp, entity_event).
constexpr std::array<std::array<std::string_view, 2>, 3> kPolledKinds{
    {{"person", "people"}, {"appointment", "appointments"}, {"task", "tasks"}}};

// Whether connection `c` (a crm_connections row) is subscribed: every subscription for its route was made, and it
// still holds the credential the route was issued for (the subscriptions live on that credential at Rollout; a
// re-pointed connection's deliveries are refused, storage/sql_hooks.cpp).
#define ROLLOUT_SUBSCRIBED                                                                                        \
    "EXISTS (SELECT 1 FROM hook_routes r WHERE r.tenant_id = c.tenant_id AND r.crm_type = c.crm_type"            \
    " AND r.subscribed_at IS NOT NULL AND r.credential_fingerprint = c.credential_fingerprint)"

// Connections not subscribed whose lease expired (?1: now, ?2: how many), least recently attempted first. A
// connection without a fingerprint has a credential nobody can read: no attempt could succeed.
// SUBSCRIBED_TEST: "NOT " for connections to subscribe, "" for subscribed ones to verify (same lease column).
#define ROLLOUT_RECONCILE_CANDIDATES(SUBSCRIBED_TEST)                                                             \
    "SELECT c.tenant_id, c.crm_type FROM crm_connections c"                                                      \
    " LEFT JOIN hook_reconcile h ON h.tenant_id = c.tenant_id AND h.crm_type = c.crm_type"                       \
    " WHERE c.credential_fingerprint IS NOT NULL AND " SUBSCRIBED_TEST ROLLOUT_SUBSCRIBED                        \
    " AND coalesce(h.reconcile_until, 0) <= ?1"                                                                  \
    " ORDER BY coalesce(h.reconcile_attempted_at, 0), c.tenant_id, c.crm_type LIMIT ?2"

// The lease as a compare-and-set (?1 tenant, ?2 crm, ?3 leased until, ?4 now): a row comes back only when this call
// took it. The SELECT re-reads the connection, so one subscribed or removed since the candidates were read is left
// alone; on PostgreSQL a competing claim waits for this one's commit and then finds the lease running.
#define ROLLOUT_TAKE_LEASE(SUBSCRIBED_TEST)                                                                       \
    "INSERT INTO hook_reconcile(tenant_id, crm_type, reconcile_until, reconcile_attempted_at)"                   \
    " SELECT c.tenant_id, c.crm_type, ?3, ?4 FROM crm_connections c"                                             \
    " WHERE c.tenant_id = ?1 AND c.crm_type = ?2 AND " SUBSCRIBED_TEST ROLLOUT_SUBSCRIBED                        \
    " ON CONFLICT (tenant_id, crm_type) DO UPDATE SET reconcile_until = excluded.reconcile_until,"                \
    " reconcile_attempted_at = excluded.reconcile_attempted_at WHERE hook_reconcile.reconcile_until <= ?4"       \
    " RETURNING tenant_id"

// The teams with a connection to poll (?1: 1 for every connection, 0 for those not subscribed).
#define ROLLOUT_POLLED_CONNECTIONS                                                                                \
    " FROM crm_connections c WHERE c.credential_fingerprint IS NOT NULL AND (?1 = 1 OR NOT " ROLLOUT_SUBSCRIBED ")"

// One connection's ledger rows a webhook can report on, least recently checked first (?1 tenant, ?2 crm, ?3 checked
// at or before, ?4 how many): the order of sync_ledger_checked, so the scan stops at the limit.
#define ROLLOUT_LEDGER_TO_POLL                                                                                    \
    "SELECT entity_kind, local_id, external_id FROM sync_ledger"                                                 \
    " WHERE tenant_id = ?1 AND crm_type = ?2 AND checked_at <= ?3"                                               \
    " AND entity_kind IN ('person', 'appointment', 'task') AND external_id <> ''"                                \
    " ORDER BY checked_at, entity_kind, local_id LIMIT ?4"

std::int64_t clamp_count(std::size_t n) {
    return static_cast<std::int64_t>(
        std::min<std::size_t>(n, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

// A JSON array of strings (RFC 8259, section 7: quote, backslash and control characters escaped), the shape of a
// delivery's resourceIds.
std::string json_string_array(const std::vector<std::string>& values) {
    std::string out = "[";
    for (const std::string& value : values) {
        if (out.size() > 1) out += ',';
        out += '"';
        for (const char ch : value) {
            const auto byte = static_cast<unsigned char>(ch);
            if (ch == '"' || ch == '\\') {
                out += '\\';
                out += ch;
            } else if (byte < 0x20) {
                char escaped[7];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(byte));
                out += escaped;
            } else {
                out += ch;
            }
        }
        out += '"';
    }
    out += ']';
    return out;
}

struct PolledConnection {
    std::string crm_type;
    std::vector<unsigned char> credential_fingerprint;
    std::vector<LedgerEntry> rows;   // least recently checked first
    std::size_t taken = 0;           // how many of `rows` this round hands out
};

}  // namespace

Result<void> SqlStorage::set_hook_subscribed(std::string_view tenant_id, std::string_view crm_type, bool subscribed,
                                             std::int64_t now_ms) {
    return guarded<void>("set webhook subscription state", [&]() -> Result<void> {
        auto st = db_->cached("UPDATE hook_routes SET subscribed_at = ?3 WHERE tenant_id = ?1 AND crm_type = ?2");
        st->bind(1, tenant_id).bind(2, crm_type);
        if (subscribed)
            st->bind(3, now_ms);
        else
            st->bind_null(3);
        st->run();
        if (subscribed && db_->changes() == 0)
            return error(ErrorCode::not_found, "no webhook route for this team's '" + std::string(crm_type) +
                                                   "' connection (issue_hook_route first)");
        return {};
    });
}

Result<std::vector<HookConnectionRef>> SqlStorage::claim_unsubscribed_connections(std::int64_t now_ms,
                                                                                  std::int64_t lease_ms,
                                                                                  std::size_t limit) {
    return claim_connections(false, now_ms, lease_ms, limit);
}

Result<std::vector<HookConnectionRef>> SqlStorage::claim_subscribed_connections(std::int64_t now_ms,
                                                                                std::int64_t lease_ms,
                                                                                std::size_t limit) {
    return claim_connections(true, now_ms, lease_ms, limit);
}

Result<std::vector<HookConnectionRef>> SqlStorage::claim_connections(bool subscribed, std::int64_t now_ms,
                                                                     std::int64_t lease_ms, std::size_t limit) {
    using Out = std::vector<HookConnectionRef>;
    if (lease_ms <= 0) return error(ErrorCode::invalid_argument, "the lease must be positive");
    return guarded<Out>(subscribed ? "claim subscribed connections" : "claim unsubscribed connections",
                        [&]() -> Result<Out> {
        Transaction tx(*db_);
        Out candidates;
        {
            auto st = db_->cached(subscribed ? ROLLOUT_RECONCILE_CANDIDATES("") : ROLLOUT_RECONCILE_CANDIDATES("NOT "));
            st->bind(1, now_ms).bind(2, clamp_count(limit));
            while (st->step()) candidates.push_back({st->text(0), st->text(1)});
        }
        // Leases are taken in one global order (two claims never wait for each other in a cycle); the answer keeps
        // the candidates' order.
        std::vector<std::size_t> lock_order(candidates.size());
        for (std::size_t i = 0; i < lock_order.size(); ++i) lock_order[i] = i;
        const auto key = [&](std::size_t i) { return std::tie(candidates[i].tenant_id, candidates[i].crm_type); };
        std::sort(lock_order.begin(), lock_order.end(), [&](std::size_t l, std::size_t r) { return key(l) < key(r); });
        std::vector<bool> taken(candidates.size(), false);
        for (const std::size_t i : lock_order) {
            auto take = db_->cached(subscribed ? ROLLOUT_TAKE_LEASE("") : ROLLOUT_TAKE_LEASE("NOT "));
            take->bind(1, std::string_view(candidates[i].tenant_id)).bind(2, std::string_view(candidates[i].crm_type));
            take->bind(3, now_ms + lease_ms).bind(4, now_ms);
            taken[i] = take->step();
            if (taken[i])
                while (take->step()) {
                }
        }
        tx.commit();
        Out out;
        for (std::size_t i = 0; i < candidates.size(); ++i)
            if (taken[i]) out.push_back(std::move(candidates[i]));
        return out;
    });
}

Result<std::size_t> SqlStorage::enqueue_ledger_polls(std::int64_t now_ms, std::size_t per_tenant,
                                                     std::int64_t min_interval_ms, bool all_connections,
                                                     std::int64_t budget_window_ms) {
    if (per_tenant == 0 || per_tenant > kMaxPollsPerTenant)
        return error(ErrorCode::invalid_argument, "per_tenant: 1 to 1,000 ledger rows");
    // A row checked at now_ms must not qualify again at now_ms, or two rounds in the same millisecond would both
    // hand it out.
    if (min_interval_ms <= 0) return error(ErrorCode::invalid_argument, "min_interval_ms must be positive");
    return guarded<std::size_t>("enqueue ledger polls", [&]() -> Result<std::size_t> {
        const bool postgresql = db_->dialect() == Dialect::postgresql;
        const std::int64_t every = all_connections ? 1 : 0;
        // checked_at 0 is "never", which qualifies however early the clock reads (tests start near 0).
        const std::int64_t checked_before = std::max<std::int64_t>(now_ms - min_interval_ms, 0);
        std::vector<std::string> tenants;
        {
            auto st = db_->cached("SELECT DISTINCT c.tenant_id" ROLLOUT_POLLED_CONNECTIONS " ORDER BY c.tenant_id");
            st->bind(1, every);
            while (st->step()) tenants.push_back(st->text(0));
        }
        std::size_t inserted = 0;
        // One transaction per team: a round over many teams never holds SQLite's one writer for long.
        for (const std::string& tenant : tenants) {
            Transaction tx(*db_);
            std::vector<PolledConnection> connections;
            {
                auto st = db_->cached("SELECT c.crm_type, c.credential_fingerprint" ROLLOUT_POLLED_CONNECTIONS
                                      " AND c.tenant_id = ?2 ORDER BY c.crm_type");
                st->bind(1, every).bind(2, std::string_view(tenant));
                while (st->step()) connections.push_back({st->text(0), st->blob(1), {}, 0});
            }
            // Rows this team had checked within the window, by any instance's round, use up the budget first.
            std::size_t budget = per_tenant;
            if (budget_window_ms > 0)
                for (const PolledConnection& connection : connections) {
                    auto used = db_->cached("SELECT COUNT(*) FROM sync_ledger WHERE tenant_id = ?1 AND crm_type = ?2"
                                            " AND checked_at > ?3");
                    used->bind(1, std::string_view(tenant)).bind(2, std::string_view(connection.crm_type));
                    used->bind(3, now_ms - budget_window_ms);
                    const auto n = used->step() ? static_cast<std::size_t>(std::max<std::int64_t>(used->int64(0), 0)) : 0;
                    budget = n >= budget ? 0 : budget - n;
                }
            if (budget == 0) continue;   // the transaction rolls back: it wrote nothing
            for (PolledConnection& connection : connections) {
                // PostgreSQL skips rows a concurrent round holds; one it committed meanwhile is re-checked against
                // checked_at (read committed) and left out.
                auto st = db_->cached(postgresql ? ROLLOUT_LEDGER_TO_POLL " FOR UPDATE SKIP LOCKED"
                                                 : ROLLOUT_LEDGER_TO_POLL);
                st->bind(1, std::string_view(tenant)).bind(2, std::string_view(connection.crm_type));
                st->bind(3, checked_before).bind(4, clamp_count(budget));
                while (st->step()) connection.rows.push_back({st->text(0), st->text(1), st->text(2), {}, {}});
            }
            // Round-robin over the team's connections, so one large ledger does not starve the team's other CRMs.
            for (std::size_t handed = 0; handed < budget;) {
                bool any = false;
                for (PolledConnection& connection : connections) {
                    if (handed == budget || connection.taken == connection.rows.size()) continue;
                    ++connection.taken;
                    ++handed;
                    any = true;
                }
                if (!any) break;
            }
            for (const PolledConnection& connection : connections) {
                for (std::size_t i = 0; i < connection.taken; ++i) {
                    auto mark = db_->cached(
                        "UPDATE sync_ledger SET checked_at = ?5"
                        " WHERE tenant_id = ?1 AND crm_type = ?2 AND entity_kind = ?3 AND local_id = ?4");
                    mark->bind(1, std::string_view(tenant)).bind(2, std::string_view(connection.crm_type));
                    mark->bind(3, std::string_view(connection.rows[i].entity_kind));
                    mark->bind(4, std::string_view(connection.rows[i].local_id)).bind(5, now_ms);
                    mark->run();
                }
                for (const auto& [kind, collection] : kPolledKinds) {
                    std::vector<std::string> ids;
                    std::set<std::string_view> seen;   // two local ids may map to one CRM record
                    for (std::size_t i = 0; i < connection.taken; ++i) {
                        const LedgerEntry& row = connection.rows[i];
                        if (row.entity_kind == kind && seen.insert(row.external_id).second)
                            ids.push_back(row.external_id);
                    }
                    if (ids.empty()) continue;
                    const std::string event = std::string(collection) + "Updated";
                    const std::string event_id = detail::random_id("poll:");
                    const std::string resource_ids = json_string_array(ids);
                    auto ins = db_->cached(
                        "INSERT INTO hook_inbox(tenant_id, crm_type, credential_fingerprint, event_id, event,"
                        " event_created, resource_ids, received_at) VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7)");
                    ins->bind(1, std::string_view(tenant)).bind(2, std::string_view(connection.crm_type));
                    ins->bind(3, std::span<const unsigned char>(connection.credential_fingerprint));
                    ins->bind(4, std::string_view(event_id)).bind(5, std::string_view(event));
                    ins->bind(6, std::string_view(resource_ids)).bind(7, now_ms);
                    ins->run();
                    ++inserted;
                }
            }
            tx.commit();
        }
        return inserted;
    });
}

Result<std::optional<bool>> SqlStorage::hook_subscribed(std::string_view tenant_id, std::string_view crm_type) {
    using Out = std::optional<bool>;
    return guarded<Out>("read webhook subscription state", [&]() -> Result<Out> {
        auto st = db_->cached("SELECT CASE WHEN " ROLLOUT_SUBSCRIBED " THEN 1 ELSE 0 END FROM crm_connections c"
                              " WHERE c.tenant_id = ?1 AND c.crm_type = ?2");
        st->bind(1, tenant_id).bind(2, crm_type);
        if (!st->step()) return Out{};
        return Out{st->int64(0) != 0};
    });
}

Result<std::pair<std::int64_t, std::int64_t>> SqlStorage::hook_subscription_counts() {
    using Out = std::pair<std::int64_t, std::int64_t>;
    return guarded<Out>("count webhook subscriptions", [&]() -> Result<Out> {
        auto st = db_->cached("SELECT coalesce(sum(CASE WHEN " ROLLOUT_SUBSCRIBED " THEN 1 ELSE 0 END), 0), count(*)"
                              " FROM crm_connections c");
        if (!st->step()) return Out{0, 0};
        const std::int64_t subscribed = st->int64(0);
        return Out{subscribed, st->int64(1) - subscribed};
    });
}

#undef ROLLOUT_SUBSCRIBED
#undef ROLLOUT_RECONCILE_CANDIDATES
#undef ROLLOUT_TAKE_LEASE
#undef ROLLOUT_POLLED_CONNECTIONS
#undef ROLLOUT_LEDGER_TO_POLL

}  // namespace rollout_mcp::storage
