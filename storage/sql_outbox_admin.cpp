// SqlStorage: the sync outbox's operator side: finding and retrying jobs, statistics, dead-job
// alerts and purging finished jobs (retention itself: sql_outbox_retention.cpp).
#include "storage/sql_storage.hpp"

#include "storage/postgres_listener.hpp"

#include <algorithm>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

namespace {

constexpr std::size_t kMaxListed = 1000;

// A WHERE clause with only the filters that are set (so each can use its index), and its arguments.
struct Filter {
    std::string where;
    std::vector<std::string> args;

    void add(const char* column, const std::optional<std::string>& value) {
        if (!value) return;
        args.push_back(*value);
        where += std::string(where.empty() ? " WHERE " : " AND ") + column + " = ?" + std::to_string(args.size());
    }
    void bind(Statement& st) const {
        for (std::size_t i = 0; i < args.size(); ++i) st.bind(static_cast<int>(i + 1), args[i]);
    }
};

Filter filter_of(const SyncJobQuery& q, bool with_status) {
    Filter f;
    f.add("tenant_id", q.tenant_id);
    f.add("id", q.job_id);
    f.add("tour_id", q.tour_id);
    f.add("subject", q.subject);
    f.add("kind", q.kind);
    if (with_status && q.status) f.add("status", std::string(to_string(*q.status)));
    return f;
}

std::string limit_clause(std::size_t limit) {
    return " ORDER BY created_at DESC, id LIMIT " + std::to_string(std::min(limit, kMaxListed));
}

}  // namespace

Result<std::vector<SyncJobInfo>> SqlStorage::find_sync_jobs(const SyncJobQuery& query) {
    using Out = std::vector<SyncJobInfo>;
    return guarded<Out>("find sync jobs", [&]() -> Result<Out> {
        const Filter f = filter_of(query, true);
        Statement st = db_->prepare(std::string("SELECT ") + detail::kSyncJobColumns + " FROM sync_jobs" +
                                    f.where + limit_clause(query.limit));
        f.bind(st);
        Out out;
        while (st.step()) out.push_back(detail::sync_job_from(st));
        return out;
    });
}

Result<std::vector<SyncJobInfo>> SqlStorage::retry_sync_jobs(const SyncJobQuery& query, std::int64_t now_ms) {
    using Out = std::vector<SyncJobInfo>;
    return guarded<Out>("retry sync jobs", [&]() -> Result<Out> {
        Transaction tx(*db_);
        Filter f = filter_of(query, false);
        f.where += f.where.empty() ? " WHERE " : " AND ";
        f.where += "status IN ('failed', 'dead')";
        std::vector<std::string> ids;
        {
            Statement sel = db_->prepare("SELECT id FROM sync_jobs" + f.where + limit_clause(query.limit));
            f.bind(sel);
            while (sel.step()) ids.push_back(sel.text(0));
        }
        // recover is kept: a job that died after an uncertain write must still look its markers up.
        auto upd = db_->cached(
            "UPDATE sync_jobs SET status = 'queued', attempts = 0, next_attempt_at = ?2, finished_at = NULL,"
            " lease_until = NULL, alert_pending = 0, alert_attempts = 0, alert_next_at = 0, updated_at = ?2"
            " WHERE id = ?1 AND status IN ('failed', 'dead')");
        Out out;
        for (const std::string& id : ids) {
            upd->bind(1, id).bind(2, now_ms);
            upd->run();
            upd->reset();
            auto info = load_sync_job(id);
            if (!info) return info.error();
            out.push_back(std::move(*info));
        }
        notify_others(kJobsQueuedChannel, ids);
        tx.commit();
        return out;
    });
}

Result<OutboxStats> SqlStorage::outbox_stats(std::int64_t now_ms) {
    return guarded<OutboxStats>("outbox stats", [&]() -> Result<OutboxStats> {
        // One statement: one consistent snapshot of the counts.
        auto st = db_->cached(
            "SELECT (SELECT count(*) FROM sync_jobs WHERE status = 'queued'),"
            " (SELECT count(*) FROM sync_jobs WHERE status = 'running'),"
            " (SELECT count(*) FROM sync_jobs WHERE status = 'succeeded'),"
            " (SELECT count(*) FROM sync_jobs WHERE status = 'failed'),"
            " (SELECT count(*) FROM sync_jobs WHERE status = 'dead'),"
            " (SELECT count(*) FROM sync_jobs WHERE status = 'queued' AND next_attempt_at <= ?1),"
            " (SELECT min(next_attempt_at) FROM sync_jobs WHERE status = 'queued' AND next_attempt_at <= ?1),"
            " (SELECT count(*) FROM sync_jobs WHERE status = 'dead' AND alert_pending = 1)");
        st->bind(1, now_ms);
        OutboxStats s;
        if (!st->step()) return s;
        s.queued = st->int64(0);
        s.running = st->int64(1);
        s.succeeded = st->int64(2);
        s.failed = st->int64(3);
        s.dead = st->int64(4);
        s.due = st->int64(5);
        if (const auto oldest = st->optional_int64(6)) s.oldest_due_age_ms = now_ms - *oldest;
        s.alerts_pending = st->int64(7);
        return s;
    });
}

Result<std::vector<PendingAlert>> SqlStorage::pending_alerts(std::int64_t now_ms, std::size_t limit) {
    using Out = std::vector<PendingAlert>;
    return guarded<Out>("pending alerts", [&]() -> Result<Out> {
        static const std::string sql = std::string("SELECT ") + detail::kSyncJobColumns +
                                       ", alert_attempts FROM sync_jobs"
                                       " WHERE alert_pending = 1 AND status = 'dead' AND alert_next_at <= ?1"
                                       " AND finished_at IS NOT NULL ORDER BY finished_at, id LIMIT ?2";
        auto st = db_->cached(sql.c_str());
        // Capped like listings; the alert loop asks again for the rest.
        st->bind(1, now_ms).bind(2, static_cast<std::int64_t>(std::min(limit, kMaxListed)));
        Out out;
        while (st->step()) {
            const int attempts = static_cast<int>(st->int64(detail::kSyncJobColumnCount));
            out.push_back({detail::sync_job_from(*st), attempts});
        }
        return out;
    });
}

Result<std::vector<PendingAlert>> SqlStorage::claim_alerts(std::int64_t now_ms, std::int64_t lease_until_ms,
                                                           std::size_t limit) {
    using Out = std::vector<PendingAlert>;
    return guarded<Out>("claim alerts", [&]() -> Result<Out> {
        Transaction tx(*db_);
        std::vector<std::string> ids;
        {
            // PostgreSQL: rows another instance is claiming right now are skipped, not waited for.
            // (A dead job has ended: finished_at IS NOT NULL lets the partial finished index give the order.)
            std::string sql = "SELECT id FROM sync_jobs WHERE alert_pending = 1 AND status = 'dead' AND alert_next_at <= ?1"
                              " AND finished_at IS NOT NULL ORDER BY finished_at, id LIMIT ?2";
            if (db_->dialect() == Dialect::postgresql) sql += " FOR UPDATE SKIP LOCKED";
            Statement sel = db_->prepare(sql);
            sel.bind(1, now_ms).bind(2, static_cast<std::int64_t>(std::min(limit, kMaxListed)));
            while (sel.step()) ids.push_back(sel.text(0));
        }
        // Compare-and-set: under read committed a concurrent claimer's UPDATE re-checks the row after ours commits
        // and finds it no longer due, so exactly one claim takes each alert.
        auto upd = db_->cached(
            "UPDATE sync_jobs SET alert_next_at = ?2"
            " WHERE id = ?1 AND alert_pending = 1 AND status = 'dead' AND alert_next_at <= ?3");
        static const std::string read_sql = std::string("SELECT ") + detail::kSyncJobColumns +
                                            ", alert_attempts FROM sync_jobs WHERE id = ?1";
        Out out;
        for (const auto& id : ids) {
            upd->bind(1, id).bind(2, lease_until_ms).bind(3, now_ms);
            upd->run();
            const bool taken = db_->changes() != 0;
            upd->reset();
            if (!taken) continue;
            auto st = db_->cached(read_sql.c_str());
            st->bind(1, id);
            if (st->step())
                out.push_back({detail::sync_job_from(*st), static_cast<int>(st->int64(detail::kSyncJobColumnCount)),
                               lease_until_ms});
        }
        tx.commit();
        return out;
    });
}

Result<void> SqlStorage::finish_alert(std::string_view job_id, std::int64_t claimed_until_ms, bool delivered,
                                      std::int64_t next_attempt_at_ms) {
    return guarded<void>("finish alert", [&]() -> Result<void> {
        // Only under the claim: one whose lease lapsed may have been taken by another instance, which now owns it.
        auto st = db_->cached(
            "UPDATE sync_jobs SET alert_attempts = alert_attempts + 1,"
            " alert_pending = CASE WHEN ?2 = 1 OR ?3 = 0 THEN 0 ELSE 1 END,"
            " alert_next_at = CASE WHEN ?2 = 1 OR ?3 = 0 THEN alert_next_at ELSE ?3 END"
            " WHERE id = ?1 AND alert_pending = 1 AND alert_next_at = ?4");
        st->bind(1, job_id).bind(2, std::int64_t{delivered ? 1 : 0}).bind(3, next_attempt_at_ms);
        st->bind(4, claimed_until_ms);
        st->run();
        if (db_->changes() == 0)
            return error(ErrorCode::not_found, "sync job '" + std::string(job_id) + "' has no pending alert under this claim");
        return {};
    });
}

Result<std::size_t> SqlStorage::purge_finished_sync_jobs(std::int64_t before_ms) {
    // Succeeded jobs and idempotency keys older than the cut-off, through the batched retention path
    // (sql_outbox_retention.cpp) so tombstones and shared payloads are handled the same way.
    PurgePolicy policy;
    policy.succeeded_before_ms = before_ms;
    policy.requests_before_ms = before_ms;
    const std::int64_t now_ms = detail::now_seconds() * 1000;
    std::size_t jobs = 0;
    for (;;) {
        auto step = purge_sync_batch(policy, now_ms, 500);
        if (!step) return step.error();
        jobs += step->jobs;
        if (step->done) return jobs;
    }
}

}  // namespace rollout_mcp::storage
