// SqlStorage: the outbox's claim path (docs/ARCHITECTURE.md, "The outbox state machine", "Several instances"): the
// fair due list, compare-and-set claims that hold a job's tour and buyer, and taking back interrupted claims.
#include "storage/sql_storage.hpp"

#include "storage/postgres_listener.hpp"

#include <limits>
#include <set>

namespace rollout_mcp::storage {

using crypto::KeyId;
using crypto::RowIdentity;
using detail::error;
using detail::guarded;
using detail::kSyncJobKind;
using detail::kSyncPayloadKind;

namespace {

std::int64_t clamp_count(std::size_t n) {
    return static_cast<std::int64_t>(
        std::min<std::size_t>(n, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

// The claimable condition, shared by the due list and the claim so they can never disagree.
#define ROLLOUT_CLAIMABLE \
    "((status = 'queued' AND next_attempt_at <= ?2) OR (status = 'running' AND lease_until <= ?2))"

// No other live claim of the same team and CRM shares the job's tour or its lock key (the buyer): shared by both
// engines' claims, and by the claim of a job being written (claim_at_enqueue), whose columns are parameters.
#define ROLLOUT_NO_LIVE_OVERLAP_OF(TENANT, CRM, TOUR, LOCK, NOT_SELF) \
    "NOT EXISTS (SELECT 1 FROM sync_jobs o WHERE o.tenant_id = " TENANT " AND o.crm_type = " CRM \
    " AND o.status = 'running' AND o.lease_until > ?2" NOT_SELF \
    " AND ((" TOUR " <> '' AND o.tour_id = " TOUR ") OR o.lock_key = " LOCK "))"
#define ROLLOUT_NO_LIVE_OVERLAP \
    ROLLOUT_NO_LIVE_OVERLAP_OF("sync_jobs.tenant_id", "sync_jobs.crm_type", "sync_jobs.tour_id", "sync_jobs.lock_key", \
                               " AND o.id <> sync_jobs.id")

// The team's and the team's CRM's live claims stay under their caps (?4, ?5; 0: none), whichever instance holds
// them.
#define ROLLOUT_UNDER_RUNNING_CAPS_OF(TENANT, CRM) \
    "(?4 = 0 OR (SELECT count(*) FROM sync_jobs o WHERE o.tenant_id = " TENANT \
    " AND o.status = 'running' AND o.lease_until > ?2) < ?4)" \
    " AND (?5 = 0 OR (SELECT count(*) FROM sync_jobs o WHERE o.tenant_id = " TENANT \
    " AND o.crm_type = " CRM " AND o.status = 'running' AND o.lease_until > ?2) < ?5)"
#define ROLLOUT_UNDER_RUNNING_CAPS ROLLOUT_UNDER_RUNNING_CAPS_OF("sync_jobs.tenant_id", "sync_jobs.crm_type")

}  // namespace

Result<std::vector<DueJob>> SqlStorage::due_sync_jobs(std::int64_t now_ms, std::size_t per_tenant,
                                                         std::size_t limit) {
    using Out = std::vector<DueJob>;
    return guarded<Out>("due sync jobs", [&]() -> Result<Out> {
        // Row number per tenant first: every tenant's oldest due job outranks anyone's second one, so
        // a tenant with a large backlog cannot starve the others.
        auto st = db_->cached(
            "SELECT id, tenant_id, crm_type, lock_key, tour_id FROM ("
            " SELECT id, tenant_id, crm_type, lock_key, tour_id, next_attempt_at, created_at,"
            "  ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at, created_at, id) AS rn"
            " FROM sync_jobs WHERE " ROLLOUT_CLAIMABLE
            ") AS ranked WHERE rn <= ?3 ORDER BY rn, next_attempt_at, created_at, id LIMIT ?4");
        st->bind(2, now_ms).bind(3, clamp_count(per_tenant)).bind(4, clamp_count(limit));
        Out out;
        while (st->step()) out.push_back({st->text(0), st->text(1), st->text(2), st->text(3), st->text(4)});
        return out;
    });
}

Result<std::vector<ClaimedJob>> SqlStorage::claim_sync_jobs(const std::vector<std::string>& job_ids,
                                                               std::int64_t now_ms, std::int64_t lease_until_ms) {
    using Out = std::vector<ClaimedJob>;
    return guarded<Out>("claim sync jobs", [&]() -> Result<Out> {
        // A job opens its shared payload (payload_id) or, written before shared payloads, its own.
        static const std::string read_sql =
            std::string("SELECT ") + detail::kSyncJobColumns +
            ", pid, coalesce(pkey, key_id), coalesce(pnonce, nonce), coalesce(pct, ciphertext), claim_token,"
            " (SELECT config_version FROM tenants WHERE tenants.id = sync_jobs.tenant_id)"
            " FROM sync_jobs"
            " LEFT JOIN (SELECT id AS pid, key_id AS pkey, nonce AS pnonce, ciphertext AS pct FROM sync_payloads) AS p"
            " ON pid = payload_id WHERE id = ?1";
        const bool postgresql = db_->dialect() == Dialect::postgresql;
        Transaction tx(*db_);
        if (postgresql) lock_claim_scopes(job_ids);
        Out out;
        for (const std::string& id : job_ids) {
            if (!claim_row(id, now_ms, lease_until_ms)) continue;
            std::optional<ClaimedJob> claimed;
            std::string open_error;
            {
                auto st = db_->cached(read_sql.c_str());
                st->bind(1, id);
                if (!st->step()) continue;
                SyncJobInfo info = detail::sync_job_from(*st);
                const int k = detail::kSyncJobColumnCount;
                const bool shared = !st->is_null(k);
                const std::string payload_id = shared ? st->text(k) : std::string();
                const RowIdentity row = shared ? RowIdentity{info.tenant_id, kSyncPayloadKind, payload_id}
                                               : RowIdentity{info.tenant_id, kSyncJobKind, info.id};
                auto payload = open_row_data(row, static_cast<KeyId>(st->int64(k + 1)), st->blob(k + 2), st->blob(k + 3));
                if (payload)
                    claimed = ClaimedJob{std::move(info), std::move(*payload), st->int64(k + 4), st->int64(k + 5)};
                else
                    open_error = payload.error().message;
            }
            if (claimed) {
                out.push_back(std::move(*claimed));
                continue;
            }
            // Retrying cannot help an unreadable payload; fail just this job so the others proceed.
            auto fail = db_->cached(
                "UPDATE sync_jobs SET status = 'failed', lease_until = NULL, finished_at = ?2, updated_at = ?2,"
                " last_error = ?3 WHERE id = ?1");
            fail->bind(1, id).bind(2, now_ms).bind(3, "payload cannot be opened: " + open_error);
            fail->run();
            notify_others(kJobAttemptChannel, {id});   // its watchers elsewhere: the job is final
        }
        tx.commit();
        return out;
    });
}

bool SqlStorage::claim_row(const std::string& job_id, std::int64_t now_ms, std::int64_t lease_until_ms) {
    if (db_->dialect() == Dialect::postgresql) {
        // The same claim as below, as PostgreSQL queues claim (docs/ARCHITECTURE.md, "Several instances"): the row
        // is taken FOR UPDATE SKIP LOCKED in a CTE, so a row another transaction is finishing, retrying or
        // cancelling is skipped rather than waited for; the tour and buyer check runs under the team's advisory
        // lock the caller took (lock_claim_scopes), so two instances cannot both pass it (nor both the caps).
        auto upd = db_->cached(
            "WITH c AS (SELECT id FROM sync_jobs WHERE id = ?1 AND " ROLLOUT_CLAIMABLE " FOR UPDATE SKIP LOCKED)"
            " UPDATE sync_jobs SET status = 'running', attempts = attempts + 1, lease_until = ?3,"
            " recover = CASE WHEN recover = 1 OR status = 'running' THEN 1 ELSE 0 END, updated_at = ?2,"
            " claim_token = claim_token + 1"
            " FROM c WHERE sync_jobs.id = c.id"
            " AND " ROLLOUT_NO_LIVE_OVERLAP " AND " ROLLOUT_UNDER_RUNNING_CAPS);
        upd->bind(1, job_id).bind(2, now_ms).bind(3, lease_until_ms);
        upd->bind(4, clamp_count(limits_.max_running_per_tenant)).bind(5, clamp_count(limits_.max_running_per_crm));
        upd->run();
        return db_->changes() > 0;
    }
    // SET expressions see the old row: a job still 'running' here had its lease expire. Each claim gets a new
    // fencing token (finish_sync_attempt checks it). A job holds every identity it touches: no other live claim of
    // the same team and CRM may share its tour or its buyer, so a tour's job and the feedback jobs of that tour or
    // buyer never overlap, whatever the in-memory scheduler believes (a second worker or instance included).
    auto upd = db_->cached(
        "UPDATE sync_jobs SET status = 'running', attempts = attempts + 1, lease_until = ?3,"
        " recover = CASE WHEN recover = 1 OR status = 'running' THEN 1 ELSE 0 END, updated_at = ?2, claim_token = claim_token + 1"
        " WHERE id = ?1 AND " ROLLOUT_CLAIMABLE
        " AND " ROLLOUT_NO_LIVE_OVERLAP " AND " ROLLOUT_UNDER_RUNNING_CAPS);
    upd->bind(1, job_id).bind(2, now_ms).bind(3, lease_until_ms);
    upd->bind(4, clamp_count(limits_.max_running_per_tenant)).bind(5, clamp_count(limits_.max_running_per_crm));
    upd->run();
    return db_->changes() > 0;
}

bool SqlStorage::claim_at_enqueue(const std::string& tenant_id, const std::string& batch_id, const NewSyncJob& job,
                                  std::int64_t now_ms) {
    // claim_row's rules for a job about to be written (due now, so claimable), its columns bound as parameters; and
    // another job of the team that could be claimed now goes first, in the scheduler's fair order: one due and not
    // held back by a live claim of its tour or buyer (so it waits only for a place under the caps), or one running
    // with an expired lease (a recovery). A new job never takes a place before it. Jobs of the same request (one
    // batch) do not hold each other back.
    auto st = db_->cached(
        "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM sync_jobs q WHERE q.tenant_id = ?1 AND q.status = 'queued'"
        " AND q.next_attempt_at <= ?2 AND q.batch_id <> ?3"
        " AND " ROLLOUT_NO_LIVE_OVERLAP_OF("q.tenant_id", "q.crm_type", "q.tour_id", "q.lock_key", "") ")"
        " AND NOT EXISTS (SELECT 1 FROM sync_jobs WHERE tenant_id = ?1 AND status = 'running' AND lease_until <= ?2)"
        " AND " ROLLOUT_NO_LIVE_OVERLAP_OF("?1", "?6", "?7", "?8", "")
        " AND " ROLLOUT_UNDER_RUNNING_CAPS_OF("?1", "?6") " THEN 1 ELSE 0 END");
    st->bind(1, tenant_id).bind(2, now_ms).bind(3, batch_id);
    st->bind(4, clamp_count(limits_.max_running_per_tenant)).bind(5, clamp_count(limits_.max_running_per_crm));
    st->bind(6, job.crm_type).bind(7, job.tour_id).bind(8, job.lock_key);
    return st->step() && st->int64(0) == 1;
}

Result<std::size_t> SqlStorage::requeue_interrupted_sync_jobs(std::int64_t now_ms) {
    return guarded<std::size_t>("requeue interrupted sync jobs", [&]() -> Result<std::size_t> {
        // The previous process may have written to the CRM before it died: look markers up first. On PostgreSQL
        // a running job may belong to another live instance: only expired leases are taken back (the due list
        // offers those anyway; a restarted instance's own jobs wait out their lease).
        Statement st = db_->prepare(db_->dialect() == Dialect::postgresql
                                        ? "UPDATE sync_jobs SET status = 'queued', next_attempt_at = ?1, recover = 1,"
                                          " lease_until = NULL, updated_at = ?1"
                                          " WHERE status = 'running' AND lease_until <= ?1"
                                        : "UPDATE sync_jobs SET status = 'queued', next_attempt_at = ?1, recover = 1,"
                                          " lease_until = NULL, updated_at = ?1 WHERE status = 'running'");
        st.bind(1, now_ms);
        st.run();
        return static_cast<std::size_t>(db_->changes());
    });
}

void SqlStorage::notify_others(std::string_view channel, const std::vector<std::string>& ids) {
    if (db_->dialect() != Dialect::postgresql || ids.empty()) return;
    // Every id reaches the listeners (watchers re-read only the ids they hear), in payloads under PostgreSQL's
    // 8,000-byte limit: several notifications in one transaction, all delivered at its commit.
    auto st = db_->cached("SELECT pg_notify(?1, ?2)");
    std::string payload;
    const auto send = [&] {
        st->bind(1, channel).bind(2, payload);
        st->run();
        st->reset();
        payload.clear();
    };
    for (const auto& id : ids) {
        if (!payload.empty() && payload.size() + id.size() + 1 > 7'000) send();
        payload += (payload.empty() ? "" : ",") + id;
    }
    if (!payload.empty()) send();
}

Result<void> SqlStorage::notify_instances(std::string_view channel, std::string_view payload) {
    return guarded<void>("notify instances", [&]() -> Result<void> {
        if (db_->dialect() != Dialect::postgresql) return {};   // one process per SQLite file: no one to tell
        auto st = db_->cached("SELECT pg_notify(?1, ?2)");
        st->bind(1, channel).bind(2, payload);
        st->run();
        return {};
    });
}

void SqlStorage::lock_claim_scopes(const std::vector<std::string>& job_ids) {
    // One team's claims run one at a time (its tours, buyers and caps span its CRMs); every claimer takes its
    // teams' locks in one global order (the set's), so two never deadlock.
    std::set<std::string> scopes;
    auto st = db_->cached("SELECT tenant_id FROM sync_jobs WHERE id = ?1");
    for (const std::string& id : job_ids) {
        st->bind(1, id);
        if (st->step()) scopes.insert("claim " + st->text(0));
        st->reset();
    }
    for (const std::string& scope : scopes) db_->lock_for_transaction(scope);
}

#undef ROLLOUT_CLAIMABLE
#undef ROLLOUT_NO_LIVE_OVERLAP
#undef ROLLOUT_NO_LIVE_OVERLAP_OF
#undef ROLLOUT_UNDER_RUNNING_CAPS
#undef ROLLOUT_UNDER_RUNNING_CAPS_OF

}  // namespace rollout_mcp::storage
