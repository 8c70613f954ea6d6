// Syncs as MCP tasks (Tasks extension, docs/ARCHITECTURE.md "Tasks"): a sync call from a client that declares
// `io.modelcontextprotocol/tasks` returns a task as soon as its jobs and the task row are committed; the task is
// `working` until every job is final, then `completed` with exactly the result the call would have returned
// (status success, partial or error; isError only when every CRM failed, dead counting as failed), or
// `cancelled` when tasks/cancel stopped jobs before their first attempt. The state lives in the database only,
// so any instance answers tasks/get after a restart.
#pragma once

#include "server/mcp/tasks.hpp"
#include "server/tools/rollout_tools.hpp"

#include <boost/json/object.hpp>

#include <memory>
#include <string>
#include <vector>

namespace rollout_mcp {

// The jobs with these ids, in this order (a job of another team is never returned).
Result<std::vector<storage::SyncJobInfo>> read_jobs(storage::Storage& s, const std::string& tenant,
                                                    const std::vector<std::string>& ids);

// What a sync call reports for its jobs (see the header comment); `what` names the subject ("tour T1").
ToolResult summarize_sync(const std::string& what, const std::vector<storage::SyncJobInfo>& jobs, bool replayed,
                          const std::vector<std::string>& ignored, const std::vector<std::string>& warnings);

// How to describe a task's result later: stored with the task as its context.
struct SyncTaskContext {
    std::string what;
    bool replayed = false;
    std::vector<std::string> ignored, warnings;
};

// Stores a task over `job_ids` (committed before this returns) and answers the call with it. With an
// idempotency key the task id is derived from it: a replay answers with the task the first call made.
boost::asio::awaitable<ToolResult> start_sync_task(const SyncToolsDeps& deps, const std::string& tenant,
                                                   const std::vector<std::string>& job_ids,
                                                   const SyncTaskContext& context,
                                                   const std::string& idempotency_key = {});

// Freezes the outcome of every finished task over the failed or dead jobs `query` selects, before they are
// re-queued: a completed task is never reopened (its jobs' new attempts belong to the retry's own task).
Result<void> freeze_finished_tasks(storage::Storage& s, const std::string& tenant, const storage::SyncJobQuery& query);

// The backend for task ids "st_...": tasks/get, tasks/cancel, tasks/update against the database.
std::shared_ptr<mcp::TaskBackend> make_sync_task_backend(SyncToolsDeps deps, std::chrono::milliseconds keep_for);

}  // namespace rollout_mcp
