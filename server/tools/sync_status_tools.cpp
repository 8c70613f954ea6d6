// get_sync_status and retry_sync: a team's outbox jobs by job id, tour id or feedback id, and re-queuing
// the failed or dead ones.
#include "server/tools/rollout_tools.hpp"
#include "server/tools/sync_tasks.hpp"

#include "server/sync/sync_job_view.hpp"
#include "server/sync/sync_worker.hpp"

#include <boost/json/parse.hpp>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace tool_results;

namespace {

// Exactly one of jobId, tourId, feedbackId (the schema cannot say "exactly one" in every client's dialect).
Result<storage::SyncJobQuery> query_of(const std::string& tenant, const json::object& args) {
    storage::SyncJobQuery q;
    q.tenant_id = tenant;
    int given = 0;
    if (const auto* v = args.if_contains("jobId")) q.job_id = std::string(v->as_string()), ++given;
    if (const auto* v = args.if_contains("tourId")) q.tour_id = std::string(v->as_string()), ++given;
    if (const auto* v = args.if_contains("feedbackId")) {
        q.subject = std::string(v->as_string());
        q.kind = "feedback";
        ++given;
    }
    if (given != 1) return invalid_argument("give exactly one of jobId, tourId or feedbackId");
    if (const auto* v = args.if_contains("limit")) q.limit = static_cast<std::size_t>(v->to_number<std::int64_t>());
    return q;
}

std::string described(const json::object& args) {
    for (const char* k : {"jobId", "tourId", "feedbackId"})
        if (const auto* v = args.if_contains(k)) return std::string(k) + " \"" + std::string(v->as_string()) + "\"";
    return "the query";
}

json::array jobs_json(const std::vector<storage::SyncJobInfo>& jobs) {
    json::array out;
    for (const auto& j : jobs) out.push_back(job_json(j));
    return out;
}

asio::awaitable<ToolResult> get_sync_status(SyncToolsDeps deps, ToolContext& ctx, const json::object& args) {
    auto q = query_of(ctx.tenant(), args);
    if (!q) co_return failure(q.error().message);
    auto jobs = co_await deps.team->storage().call(&storage::Storage::find_sync_jobs, (*q));
    if (!jobs) co_return failure("cannot read sync jobs: " + jobs.error().message);
    if (jobs->empty() && (*q).job_id) {
        // A job purged by retention ([sync] keep_*_s) is answered as expired, to its own team only.
        auto expired = co_await deps.team->storage().call(&storage::Storage::find_sync_job_tombstone, ctx.tenant(),
                                                            *q->job_id);
        if (expired) {
            json::array listed{json::object{{"jobId", expired->id}, {"status", "expired"},
                                            {"purgedAt", iso8601_utc_ms(expired->purged_at_ms)}}};
            co_return success("1 job(s) for " + described(args) +
                                  ": 1 expired (finished and purged by retention; its outcome is no longer kept)",
                              {{"jobs", std::move(listed)}});
        }
    }
    if (jobs->empty()) co_return failure("no sync jobs for " + described(args) + " in this team");
    std::map<std::string, std::size_t> by_outcome;
    for (const auto& j : *jobs) ++by_outcome[job_outcome(j)];
    std::string summary;
    for (const auto& [outcome, n] : by_outcome) summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + outcome;
    co_return success(std::to_string(jobs->size()) + " job(s) for " + described(args) + ": " + summary,
                      {{"jobs", jobs_json(*jobs)}});
}

asio::awaitable<ToolResult> retry_sync(SyncToolsDeps deps, ToolContext& ctx, const json::object& args) {
    auto q = query_of(ctx.tenant(), args);
    if (!q) co_return failure(q.error().message);
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    if (auto frozen = co_await deps.team->storage().call(&freeze_finished_tasks, ctx.tenant(), *q); !frozen)
        co_return failure("cannot re-queue sync jobs: " + frozen.error().message);
    auto jobs = co_await deps.team->storage().call(&storage::Storage::retry_sync_jobs, *q, now);
    if (!jobs) co_return failure("cannot re-queue sync jobs: " + jobs.error().message);
    if (jobs->empty())
        co_return failure("no failed or dead sync jobs for " + described(args) +
                          " in this team (get_sync_status shows their state)");
    deps.worker->wake();
    std::vector<std::string> ids;
    for (const auto& j : *jobs) ids.push_back(j.id);
    deps.worker->jobs_changed(ids);   // a task still working over them shows its jobs queued again
    if (ctx.call().tasks) {   // a new task over the re-queued jobs; a finished task is never reopened
        const SyncTaskContext context{"retry of " + described(args), false, {}, {}};
        co_return co_await start_sync_task(deps, ctx.tenant(), ids, context);
    }
    co_return success("re-queued " + std::to_string(jobs->size()) + " job(s) for " + described(args),
                      {{"jobs", jobs_json(*jobs)}});
}

constexpr const char* kQuerySchema = R"json({"type":"object","additionalProperties":false,"properties":{
 "jobId":{"type":"string","minLength":1,"maxLength":64,"description":"a job id from a sync result"},
 "tourId":{"type":"string","minLength":1,"maxLength":128,"description":"every job of this tour (its feedback too)"},
 "feedbackId":{"type":"string","minLength":1,"maxLength":400,"description":"a feedback's id as in sync results: <tourId>/<propertyId>/<buyerId> (tour-<tourId> when the feedback names no buyer)"},
 "limit":{"type":"integer","minimum":1,"maximum":1000,"default":100}}})json";

ToolDefinition define(std::string name, std::string title, std::string description, bool read_only,
                      ToolHandler handler) {
    ToolDefinition t;
    t.name = std::move(name);
    t.title = std::move(title);
    t.description = std::move(description);
    t.input_schema = json::parse(kQuerySchema).as_object();
    t.output_schema = output_schema({{"jobs", json::object{{"type", "array"}}}});
    t.annotations = {{"readOnlyHint", read_only}, {"destructiveHint", false}, {"idempotentHint", true}, {"openWorldHint", false}};
    t.handler = std::move(handler);
    return t;
}

}  // namespace

void register_sync_status_tools(ToolRegistry& registry, SyncToolsDeps deps) {
    auto bind = [deps](auto fn) { return bind_deps(deps, fn); };
    registry.add(define("get_sync_status", "Sync job status",
                        "The durable sync jobs of a job id, a tour id or a feedback id: per CRM the status (queued, "
                        "running, retrying, success, error; expired for a job id purged by retention), attempts, next "
                        "attempt, last error and records written.",
                        true, bind(get_sync_status)));
    auto retry = define("retry_sync", "Retry failed syncs",
                        "Re-queue the failed or dead sync jobs of a job id, a tour id or a feedback id (for example "
                        "after fixing a CRM connection). Records already written are updated, not duplicated. A "
                        "client with the Tasks extension gets a new task over the re-queued jobs.",
                        false, bind(retry_sync));
    retry.task_support = TaskSupport::optional;
    registry.add(std::move(retry));
}

}  // namespace rollout_mcp
