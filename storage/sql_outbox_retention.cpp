// SqlStorage: retention of the sync outbox. Old finished jobs (succeeded, or failed and dead, each with
// its own cut-off), the shared payloads no job references any more, old idempotency keys and old
// tombstones are purged in small transactions, so one large purge never holds the single storage thread
// (and every team's calls behind it) for long. A purged job leaves a tombstone so its team can still ask
// about it (get_sync_status answers "expired").
#include "storage/sql_storage.hpp"

#include <algorithm>
#include <set>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

Result<PurgeProgress> SqlStorage::purge_sync_batch(const PurgePolicy& policy, std::int64_t now_ms,
                                                      std::size_t max_rows) {
    return guarded<PurgeProgress>("purge sync outbox", [&]() -> Result<PurgeProgress> {
        Transaction tx(*db_);
        PurgeProgress p;
        bool exhausted = false;  // some kind of row hit its allowance: there may be more
        // A purged job writes up to three rows (its row, its tombstone, maybe its payload).
        const std::size_t job_allowance = std::max<std::size_t>(1, max_rows / 3);
        struct Old {
            std::string id, tenant_id, payload_id;
        };
        std::vector<Old> old;
        {
            auto sel = db_->cached(
                "SELECT id, tenant_id, coalesce(payload_id, '') FROM sync_jobs"
                " WHERE (status = 'succeeded' AND finished_at < ?1)"
                " OR (status IN ('failed', 'dead') AND finished_at < ?2) LIMIT ?3");
            sel->bind(1, policy.succeeded_before_ms).bind(2, policy.failed_before_ms);
            sel->bind(3, static_cast<std::int64_t>(job_allowance));
            while (sel->step()) old.push_back({sel->text(0), sel->text(1), sel->text(2)});
        }
        exhausted = old.size() >= job_allowance;
        std::set<std::string> payloads;
        {
            auto tomb = db_->cached(
                "INSERT INTO sync_job_tombstones(id, tenant_id, purged_at) VALUES (?1, ?2, ?3)"
                " ON CONFLICT(id) DO UPDATE SET purged_at = excluded.purged_at");
            // The age test again in the DELETE: another instance may have re-queued the job (retry_sync) since.
            auto del = db_->cached(
                "DELETE FROM sync_jobs WHERE id = ?1 AND ((status = 'succeeded' AND finished_at < ?2)"
                " OR (status IN ('failed', 'dead') AND finished_at < ?3))");
            for (const Old& j : old) {
                del->bind(1, j.id).bind(2, policy.succeeded_before_ms).bind(3, policy.failed_before_ms);
                del->run();
                del->reset();
                if (db_->changes() != 1) continue;
                tomb->bind(1, j.id).bind(2, j.tenant_id).bind(3, now_ms);
                tomb->run();
                tomb->reset();
                ++p.jobs;
                if (!j.payload_id.empty()) payloads.insert(j.payload_id);
            }
        }
        {
            // Only the payloads of the jobs just purged can have lost their last reference.
            auto del = db_->cached(
                "DELETE FROM sync_payloads WHERE id = ?1"
                " AND NOT EXISTS (SELECT 1 FROM sync_jobs WHERE payload_id = ?1)");
            for (const std::string& id : payloads) {
                del->bind(1, id);
                del->run();
                p.payloads += static_cast<std::size_t>(db_->changes());
                del->reset();
            }
        }
        const auto left = [&] {
            const std::size_t used = p.jobs * 2 + p.payloads + p.requests + p.tombstones;
            return static_cast<std::int64_t>(max_rows > used ? max_rows - used : 0);
        };
        if (!exhausted) {
            // An idempotency key may outlive its jobs or go before them; a later reuse of the key then
            // enqueues afresh, which the ledger keeps harmless.
            auto del = db_->cached(
                "DELETE FROM sync_requests WHERE (tenant_id, idempotency_key) IN"
                " (SELECT tenant_id, idempotency_key FROM sync_requests WHERE created_at < ?1 LIMIT ?2)");
            const auto allowance = left();
            del->bind(1, policy.requests_before_ms).bind(2, allowance);
            del->run();
            p.requests = static_cast<std::size_t>(db_->changes());
            exhausted = static_cast<std::int64_t>(p.requests) >= allowance;
        }
        if (!exhausted) {
            // Task handles live as long as idempotency keys: both name calls, not jobs.
            auto del = db_->cached(
                "DELETE FROM sync_tasks WHERE id IN (SELECT id FROM sync_tasks WHERE created_at < ?1 LIMIT ?2)");
            const auto allowance = left();
            del->bind(1, policy.requests_before_ms).bind(2, allowance);
            del->run();
            const auto tasks = static_cast<std::size_t>(db_->changes());
            p.requests += tasks;
            exhausted = static_cast<std::int64_t>(tasks) >= allowance;
        }
        if (!exhausted) {
            auto del = db_->cached(
                "DELETE FROM sync_job_tombstones WHERE id IN"
                " (SELECT id FROM sync_job_tombstones WHERE purged_at < ?1 LIMIT ?2)");
            const auto allowance = left();
            del->bind(1, policy.tombstones_before_ms).bind(2, allowance);
            del->run();
            p.tombstones = static_cast<std::size_t>(db_->changes());
            exhausted = static_cast<std::int64_t>(p.tombstones) >= allowance;
        }
        p.done = !exhausted;
        tx.commit();
        return p;
    });
}

Result<SyncJobTombstone> SqlStorage::find_sync_job_tombstone(std::string_view tenant_id, std::string_view job_id) {
    return guarded<SyncJobTombstone>("find sync job tombstone", [&]() -> Result<SyncJobTombstone> {
        // Scoped by tenant: another team's purged id reads exactly like an id that never existed.
        auto st = db_->cached(
            "SELECT id, tenant_id, purged_at FROM sync_job_tombstones WHERE id = ?1 AND tenant_id = ?2");
        st->bind(1, job_id).bind(2, tenant_id);
        if (!st->step()) return error(ErrorCode::not_found, "no sync job '" + std::string(job_id) + "'");
        return SyncJobTombstone{st->text(0), st->text(1), st->int64(2)};
    });
}

}  // namespace rollout_mcp::storage
