// How an outbox job is shown to clients and operators (tools and the `outbox` command agree on it).
#pragma once

#include "base/utc_time.hpp"   // iso8601_utc_ms, used with these views

#include "storage/outbox.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>

namespace rollout_mcp {


// A job's outcome in tool words: success (succeeded), error (failed or dead), queued (not tried yet),
// retrying (an attempt failed: the next is scheduled or already running), running (the first attempt).
std::string job_outcome(const storage::SyncJobInfo& job);

// {jobId, kind, crmType, subject, tourId, status, outcome, attempts, nextAttemptAt?, lastError?, lastHttpStatus?,
//  records[], keptFromCrm?, createdAt, updatedAt, finishedAt?}. A record an update left partly as the CRM's users
// changed it carries keptFromCrm: [field, ...]; the job's keptFromCrm lists those as [{kind, localId, fields}]
// (README, "Changes from the CRM").
boost::json::object job_json(const storage::SyncJobInfo& job);

}  // namespace rollout_mcp
