// JSON views of outbox jobs.
#include "server/sync/sync_job_view.hpp"

#include <boost/json/parse.hpp>

#include <cstdio>
#include <ctime>

namespace rollout_mcp {
namespace json = boost::json;

std::string job_outcome(const storage::SyncJobInfo& job) {
    switch (job.status) {
    case storage::JobStatus::succeeded: return "success";
    case storage::JobStatus::failed:
    case storage::JobStatus::dead: return "error";
    // A claim counts its attempt: a running job with more than one has failed before (a client polling it sees
    // "retrying" throughout, not a flip to "running" whenever its retry happens to be under way).
    case storage::JobStatus::running: return job.attempts > 1 ? "retrying" : "running";
    case storage::JobStatus::queued: return job.attempts == 0 ? "queued" : "retrying";
    }
    return "queued";
}

json::object job_json(const storage::SyncJobInfo& job) {
    json::object o{{"jobId", job.id},
                   {"kind", job.kind},
                   {"crmType", job.crm_type},
                   {"subject", job.subject},
                   {"tourId", job.tour_id},
                   {"status", job_outcome(job)},
                   {"jobStatus", storage::to_string(job.status)},
                   {"attempts", job.attempts},
                   {"createdAt", iso8601_utc_ms(job.created_at_ms)},
                   {"updatedAt", iso8601_utc_ms(job.updated_at_ms)}};
    if (job.status == storage::JobStatus::queued) o["nextAttemptAt"] = iso8601_utc_ms(job.next_attempt_at_ms);
    if (job.finished_at_ms) o["finishedAt"] = iso8601_utc_ms(*job.finished_at_ms);
    if (!job.last_error.empty()) {
        o["lastError"] = job.last_error;
        if (job.last_http_status) o["lastHttpStatus"] = job.last_http_status;
    }
    json::error_code ec;
    auto records = job.result_json.empty() ? json::value(json::array{}) : json::parse(job.result_json, ec);
    o["records"] = ec || !records.is_array() ? json::value(json::array{}) : records;
    // Records whose update left fields as the CRM's users changed them (sync_runner.cpp), listed for the job.
    json::array kept;
    for (const auto& r : o["records"].as_array()) {
        const json::object* record = r.if_object();
        if (!record || !record->contains("keptFromCrm") || !record->contains("kind") || !record->contains("localId"))
            continue;
        kept.push_back(json::object{
            {"kind", record->at("kind")}, {"localId", record->at("localId")}, {"fields", record->at("keptFromCrm")}});
    }
    if (!kept.empty()) o["keptFromCrm"] = std::move(kept);
    return o;
}

}  // namespace rollout_mcp
