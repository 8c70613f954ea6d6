// SqlStorage: processing the durable inbox of Rollout webhook deliveries (issue 20; storage/hooks.hpp). Rows are
// claimed with a lease and a fencing token, as the outbox claims jobs (storage/sql_outbox_claims.cpp) and the Events
// worker claims subscriptions (storage/sql_event_subscriptions.cpp): on PostgreSQL through FOR UPDATE SKIP LOCKED,
// so instances sharing the database never hold one row at once (docs/ARCHITECTURE.md, "Several instances"); a
// processor that dies leaves its lease to expire and the row is claimed again, so nothing received is lost. A
// finish commits the row's changes, the ledger's new CRM states and the row's outcome together, each state a
// compare-and-set against what the processor read, so a processor that raced another one about the same record
// writes nothing and tries again.
#include "storage/sql_storage.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

namespace {

using Status = FinishedHookEvent::Status;

constexpr std::size_t kMaxErrorBytes = 1'000;
constexpr std::size_t kMaxOutcomeBytes = 300;
constexpr std::string_view kDroppedPrefix = "dropped: ";
constexpr std::string_view kConnectionChanged = "dropped: the CRM connection changed";
// Rows dropped for a changed connection leave room in the answer: the claim looks again, at most this often.
constexpr int kClaimRounds = 4;

std::int64_t clamp_count(std::size_t n) {
    return static_cast<std::int64_t>(
        std::min<std::size_t>(n, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

// At most `max` bytes of `text`, cut before a UTF-8 continuation byte (PostgreSQL refuses a broken sequence).
std::string_view utf8_prefix(std::string_view text, std::size_t max) {
    if (text.size() <= max) return text;
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    return text.substr(0, n);
}

bool valid_outcome(std::string_view outcome) {
    if (outcome == "processed" || outcome == "ignored") return true;
    return outcome.size() > kDroppedPrefix.size() && outcome.size() <= kMaxOutcomeBytes &&
           outcome.substr(0, kDroppedPrefix.size()) == kDroppedPrefix;
}

// Pending rows whose lease expired, oldest first, and whether their connection still holds the credential they came
// for (?1: now, ?2: how many). PostgreSQL locks them and skips rows another transaction holds (another instance's
// claim, finish or retry) instead of waiting for it.
#define ROLLOUT_HOOK_CANDIDATES                                                                                   \
    "SELECT i.id, i.crm_type, i.event_id, i.event, i.event_created, i.resource_ids, i.received_at, i.tenant_id," \
    " i.credential_fingerprint, i.attempts, CASE WHEN EXISTS (SELECT 1 FROM crm_connections c"                   \
    "  WHERE c.tenant_id = i.tenant_id AND c.crm_type = i.crm_type"                                              \
    "  AND c.credential_fingerprint = i.credential_fingerprint) THEN 1 ELSE 0 END"                               \
    " FROM hook_inbox i WHERE i.processed_at IS NULL AND i.claimed_until <= ?1 ORDER BY i.id LIMIT ?2"

// One (tenant, crm) ledger row's current crm_state; PostgreSQL holds the row until the transaction ends.
#define ROLLOUT_LEDGER_STATE                                                                                      \
    "SELECT coalesce(crm_state, '') FROM sync_ledger"                                                             \
    " WHERE tenant_id = ?1 AND crm_type = ?2 AND entity_kind = ?3 AND local_id = ?4"

}  // namespace

Result<std::vector<ClaimedHookEvent>> SqlStorage::claim_hook_events(std::int64_t now_ms, std::int64_t lease_ms,
                                                                    std::size_t limit) {
    using Out = std::vector<ClaimedHookEvent>;
    if (lease_ms <= 0) return error(ErrorCode::invalid_argument, "the lease must be positive");
    return guarded<Out>("claim webhook events", [&]() -> Result<Out> {
        const bool postgresql = db_->dialect() == Dialect::postgresql;
        Transaction tx(*db_);
        Out out;
        for (int round = 0; round < kClaimRounds && out.size() < limit; ++round) {
            Out connected;
            std::vector<std::int64_t> disconnected;
            {
                auto st = db_->cached(postgresql ? ROLLOUT_HOOK_CANDIDATES " FOR UPDATE SKIP LOCKED"
                                                 : ROLLOUT_HOOK_CANDIDATES);
                st->bind(1, now_ms).bind(2, clamp_count(limit - out.size()));
                while (st->step()) {
                    if (st->int64(10) == 0) {
                        disconnected.push_back(st->int64(0));
                        continue;
                    }
                    ClaimedHookEvent e;
                    e.row = {st->int64(0), st->text(1), {st->text(2), st->text(3), st->text(4), st->text(5)},
                             st->int64(6)};
                    e.tenant_id = st->text(7);
                    e.credential_fingerprint = st->blob(8);
                    e.attempts = st->int64(9);
                    connected.push_back(std::move(e));
                }
            }
            // The connection was removed or re-pointed at another credential (a reconnect may even be another CRM
            // account): the event's ids mean nothing there any more, so it is kept only to deduplicate redeliveries.
            for (const std::int64_t id : disconnected) {
                auto drop = db_->cached("UPDATE hook_inbox SET processed_at = ?2, outcome = ?3 WHERE id = ?1");
                drop->bind(1, id).bind(2, now_ms).bind(3, kConnectionChanged);
                drop->run();
            }
            for (ClaimedHookEvent& e : connected) {
                // Within this transaction (SQLite: the one writer; PostgreSQL: the row lock taken above). The new
                // token is always greater and always odd, even when a lapsed claim (odd) is claimed again: an
                // unprocessed row's token is odd exactly while it is claimed and not given back (storage/hooks.hpp).
                auto lease = db_->cached(
                    "UPDATE hook_inbox SET claimed_until = ?2, claim_token = claim_token + 1 + claim_token % 2"
                    " WHERE id = ?1 RETURNING claim_token");
                lease->bind(1, e.row.id).bind(2, now_ms + lease_ms);
                if (!lease->step()) continue;
                e.claim_token = lease->int64(0);
                while (lease->step()) {
                }
                out.push_back(std::move(e));
            }
            if (disconnected.empty()) break;   // the answer is full, or nothing else is claimable
        }
        tx.commit();
        return out;
    });
}

Result<FinishedHookEvent> SqlStorage::finish_hook_event(std::int64_t inbox_id, std::int64_t claim_token,
                                                        const HookEventResult& result, std::int64_t now_ms) {
    if (!valid_outcome(result.outcome))
        return error(ErrorCode::invalid_argument,
                     "outcome: \"processed\", \"ignored\" or \"dropped: <reason>\" (at most 300 bytes)");
    // Ledger rows are locked in one global order (two finishes never wait for each other in a cycle), so each row
    // may come once.
    std::vector<const LedgerStateUpdate*> states;
    for (const LedgerStateUpdate& u : result.states) {
        if (u.entity_kind.empty() || u.local_id.empty())
            return error(ErrorCode::invalid_argument, "ledger state updates need an entity_kind and a local_id");
        states.push_back(&u);
    }
    const auto key = [](const LedgerStateUpdate* u) { return std::tie(u->entity_kind, u->local_id); };
    std::sort(states.begin(), states.end(), [&](auto* l, auto* r) { return key(l) < key(r); });
    if (std::adjacent_find(states.begin(), states.end(), [&](auto* l, auto* r) { return key(l) == key(r); }) !=
        states.end())
        return error(ErrorCode::invalid_argument, "ledger state updates: one per ledger row");
    return guarded<FinishedHookEvent>("finish webhook event", [&]() -> Result<FinishedHookEvent> {
        const bool postgresql = db_->dialect() == Dialect::postgresql;
        Transaction tx(*db_);
        std::string tenant_id, crm_type;
        {
            // PostgreSQL: FOR UPDATE holds the row until commit, so no claim can replace the token meanwhile (a
            // claim skips it). SQLite: this transaction is the one writer.
            auto st = db_->cached(postgresql ? "SELECT tenant_id, crm_type FROM hook_inbox"
                                               " WHERE id = ?1 AND claim_token = ?2 AND processed_at IS NULL FOR UPDATE"
                                             : "SELECT tenant_id, crm_type FROM hook_inbox"
                                               " WHERE id = ?1 AND claim_token = ?2 AND processed_at IS NULL");
            st->bind(1, inbox_id).bind(2, claim_token);
            if (!st->step()) return FinishedHookEvent{Status::claim_lost, {}};
            tenant_id = st->text(0);
            crm_type = st->text(1);
        }
        for (const LedgerStateUpdate* u : states) {
            {
                // Read committed: a finish that waited for this row's lock reads the state the other one committed.
                auto st = db_->cached(postgresql ? ROLLOUT_LEDGER_STATE " FOR UPDATE" : ROLLOUT_LEDGER_STATE);
                st->bind(1, std::string_view(tenant_id)).bind(2, std::string_view(crm_type));
                st->bind(3, std::string_view(u->entity_kind)).bind(4, std::string_view(u->local_id));
                if (!st->step()) continue;   // no such ledger row: nothing of ours to compare with or to keep
                if (st->text(0) != u->expected_state) return FinishedHookEvent{Status::state_moved, {}};
            }
            auto upd = db_->cached(
                "UPDATE sync_ledger SET crm_state = ?5, updated_at = ?6"
                " WHERE tenant_id = ?1 AND crm_type = ?2 AND entity_kind = ?3 AND local_id = ?4");
            upd->bind(1, std::string_view(tenant_id)).bind(2, std::string_view(crm_type));
            upd->bind(3, std::string_view(u->entity_kind)).bind(4, std::string_view(u->local_id)).bind(6, now_ms);
            if (u->crm_state.empty())
                upd->bind_null(5);
            else
                upd->bind(5, std::string_view(u->crm_state));
            upd->run();
        }
        FinishedHookEvent done;
        for (const CrmChange& c : result.changes) {
            CrmChange change = c;
            if (change.crm_type.empty()) change.crm_type = crm_type;
            auto appended = append_crm_change_in_transaction(tenant_id, change, now_ms);
            if (!appended) return appended.error();
            done.changes.push_back(std::move(*appended));
        }
        auto mark = db_->cached(
            "UPDATE hook_inbox SET processed_at = ?3, outcome = ?4 WHERE id = ?1 AND claim_token = ?2"
            " AND processed_at IS NULL");
        mark->bind(1, inbox_id).bind(2, claim_token).bind(3, now_ms).bind(4, std::string_view(result.outcome));
        mark->run();
        if (db_->changes() != 1) return FinishedHookEvent{Status::claim_lost, {}};
        tx.commit();
        return done;
    });
}

Result<bool> SqlStorage::retry_hook_event(std::int64_t inbox_id, std::int64_t claim_token, std::int64_t retry_at_ms,
                                          std::string_view error_text) {
    return guarded<bool>("retry webhook event", [&]() -> Result<bool> {
        // The new token ends the claim: the processor gave the row back, its token must not finish it later.
        auto st = db_->cached(
            "UPDATE hook_inbox SET claimed_until = ?3, claim_token = claim_token + 1, attempts = attempts + 1,"
            " last_error = ?4 WHERE id = ?1 AND claim_token = ?2 AND processed_at IS NULL");
        // "" rather than an empty view: a null text pointer would bind SQL NULL.
        const std::string_view kept =
            error_text.empty() ? std::string_view("") : utf8_prefix(error_text, kMaxErrorBytes);
        st->bind(1, inbox_id).bind(2, claim_token).bind(3, retry_at_ms).bind(4, kept);
        st->run();
        return db_->changes() == 1;
    });
}

Result<std::size_t> SqlStorage::release_interrupted_hook_claims(std::int64_t now_ms) {
    if (db_->dialect() == Dialect::postgresql) return std::size_t{0};
    return guarded<std::size_t>("release interrupted webhook claims", [&]() -> Result<std::size_t> {
        // Odd token: claimed and neither finished nor given back (storage/hooks.hpp). A row backing off after a
        // failure (even token) keeps its retry time.
        auto st = db_->cached(
            "UPDATE hook_inbox SET claimed_until = ?1, claim_token = claim_token + 1"
            " WHERE processed_at IS NULL AND claim_token % 2 = 1 AND claimed_until > ?1");
        st->bind(1, now_ms);
        st->run();
        return static_cast<std::size_t>(db_->changes());
    });
}

Result<std::size_t> SqlStorage::trim_hook_inbox(std::int64_t before_ms, std::size_t max_rows) {
    return guarded<std::size_t>("trim webhook inbox", [&]() -> Result<std::size_t> {
        // Pending rows (processed_at NULL) never go, whatever their age: they are the work not yet done.
        auto st = db_->cached(
            "DELETE FROM hook_inbox WHERE id IN (SELECT id FROM hook_inbox"
            " WHERE processed_at IS NOT NULL AND processed_at < ?1 ORDER BY processed_at, id LIMIT ?2)");
        st->bind(1, before_ms).bind(2, clamp_count(max_rows));
        st->run();
        return static_cast<std::size_t>(db_->changes());
    });
}

Result<std::int64_t> SqlStorage::pending_hook_events() {
    return guarded<std::int64_t>("pending webhook events", [&]() -> Result<std::int64_t> {
        auto st = db_->cached("SELECT count(*) FROM hook_inbox WHERE processed_at IS NULL");
        return st->step() ? st->int64(0) : std::int64_t{0};
    });
}

#undef ROLLOUT_HOOK_CANDIDATES
#undef ROLLOUT_LEDGER_STATE

}  // namespace rollout_mcp::storage
