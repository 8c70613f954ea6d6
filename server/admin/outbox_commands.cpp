// `rollout-mcp outbox list|retry|stats`: the operator's view of the sync outbox, against the same SQLite
// file a live server uses (a running server picks re-queued jobs up at its next poll).
#include "server/admin/admin_commands.hpp"

#include "server/sync/sync_job_view.hpp"

#include "storage/sql_storage.hpp"

#include <boost/json/serialize.hpp>

#include <chrono>
#include <iostream>

namespace rollout_mcp {
namespace json = boost::json;

namespace {

int fail(const std::string& message) {
    std::cerr << "rollout-mcp: " << message << "\n";
    return 1;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The query the flags describe; an error naming the flag when one is wrong.
Result<storage::SyncJobQuery> query_of(storage::Storage& s, const AdminRequest& r) {
    storage::SyncJobQuery q;
    q.limit = r.limit;
    if (!r.tenant.empty()) {
        auto tenant = s.find_tenant_by_name(r.tenant);
        if (!tenant) return invalid_argument("--tenant: " + tenant.error().message);
        q.tenant_id = tenant->id;
    }
    if (!r.status.empty()) {
        q.status = storage::job_status_from(r.status);
        if (!q.status)
            return invalid_argument("--status must be queued, running, succeeded, failed or dead, not \"" + r.status +
                                    "\"");
    }
    if (!r.job.empty()) q.job_id = r.job;
    if (!r.tour.empty()) q.tour_id = r.tour;
    return q;
}

void print(const std::vector<storage::SyncJobInfo>& jobs, bool as_json) {
    for (const auto& j : jobs) {
        auto o = job_json(j);
        o["tenantId"] = j.tenant_id;
        if (as_json) {
            std::cout << json::serialize(o) << "\n";
            continue;
        }
        std::cout << j.id << "\t" << j.tenant_id << "\t" << j.crm_type << "\t" << j.kind << " " << j.subject << "\t"
                  << storage::to_string(j.status) << "\tattempts=" << j.attempts;
        if (j.status == storage::JobStatus::queued) std::cout << "\tnext=" << iso8601_utc_ms(j.next_attempt_at_ms);
        if (!j.last_error.empty()) std::cout << "\terror=" << j.last_error;
        std::cout << "\n";
    }
}

int list(storage::Storage& s, const storage::SyncJobQuery& q, bool as_json) {
    auto jobs = s.find_sync_jobs(q);
    if (!jobs) return fail(jobs.error().message);
    print(*jobs, as_json);
    if (!as_json) std::cerr << jobs->size() << " job(s)\n";
    return 0;
}

int retry(storage::Storage& s, storage::SyncJobQuery q, bool as_json) {
    if (!q.job_id && !q.tour_id && !q.tenant_id && !q.status)
        return fail("outbox retry needs --job, --tour, --tenant or --status (or several)");
    if (q.status && *q.status != storage::JobStatus::failed && *q.status != storage::JobStatus::dead)
        return fail("outbox retry re-queues failed or dead jobs; --status must be failed or dead");
    // retry_sync_jobs takes every failed or dead match; a --status filter narrows it job by job.
    std::vector<storage::SyncJobInfo> requeued;
    if (q.status) {
        auto matches = s.find_sync_jobs(q);
        if (!matches) return fail(matches.error().message);
        for (const auto& j : *matches) {
            storage::SyncJobQuery one;
            one.tenant_id = j.tenant_id;
            one.job_id = j.id;
            auto r = s.retry_sync_jobs(one, now_ms());
            if (!r) return fail(r.error().message);
            requeued.insert(requeued.end(), r->begin(), r->end());
        }
    } else {
        auto r = s.retry_sync_jobs(q, now_ms());
        if (!r) return fail(r.error().message);
        requeued = std::move(*r);
    }
    print(requeued, as_json);
    std::cerr << "re-queued " << requeued.size() << " job(s)\n";
    return 0;
}

int stats(storage::Storage& s) {
    auto st = s.outbox_stats(now_ms());
    if (!st) return fail(st.error().message);
    std::cout << "queued=" << st->queued << " (due " << st->due << ", oldest due " << st->oldest_due_age_ms / 1000
              << " s)\nrunning=" << st->running << "\nsucceeded=" << st->succeeded << "\nfailed=" << st->failed
              << "\ndead=" << st->dead << "\nalerts_pending=" << st->alerts_pending << "\n";
    return 0;
}

}  // namespace

int run_outbox_command(storage::SqlStorage& s, const AdminRequest& r) {
    if (r.command == "outbox stats") return stats(s);
    auto q = query_of(s, r);
    if (!q) return fail(q.error().message);
    if (r.command == "outbox list") return list(s, *q, r.json);
    if (r.command == "outbox retry") return retry(s, *q, r.json);
    return fail("unknown command " + r.command);
}

}  // namespace rollout_mcp
