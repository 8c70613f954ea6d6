// Syncs as MCP tasks (see sync_tasks.hpp; https://github.com/modelcontextprotocol/ext-tasks,
// specification/2026-07-28/tasks.md).
#include "server/tools/sync_tasks.hpp"

#include "server/sync/sync_job_view.hpp"
#include "server/sync/sync_worker.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace tool_results;

namespace {

// The field paths named in a result's message, so clients that read only the text see them too.
std::string ignored_note(const std::vector<std::string>& ignored) {
    if (ignored.empty()) return {};
    std::string out = " (ignored unknown fields: ";
    for (std::size_t i = 0; i < ignored.size() && i < 20; ++i) out += (i ? ", " : "") + ignored[i];
    return out + (ignored.size() > 20 ? ", ...)" : ")");
}


std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json::object context_json(const SyncTaskContext& c) {
    return {{"what", c.what}, {"replayed", c.replayed}, {"ignored", json::value_from(c.ignored)},
            {"warnings", json::value_from(c.warnings)}};
}

SyncTaskContext context_from(const std::string& text) {
    SyncTaskContext c;
    json::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return c;
    const auto& o = v.get_object();
    if (const auto* w = o.if_contains("what"); w && w->is_string()) c.what = std::string(w->get_string());
    if (const auto* r = o.if_contains("replayed"); r && r->is_bool()) c.replayed = r->get_bool();
    for (const char* key : {"ignored", "warnings"}) {
        const auto* a = o.if_contains(key);
        if (!a || !a->is_array()) continue;
        auto& out = std::string_view(key) == "ignored" ? c.ignored : c.warnings;
        for (const auto& s : a->get_array())
            if (s.is_string()) out.emplace_back(s.get_string());
    }
    return c;
}

// "st_" + 32 hex of HMAC-SHA256(key, tenant NUL idempotency key): unguessable without the key, the same for
// every replay of one call, different for every team.
std::string derived_task_id(const std::string& key, const std::string& tenant, const std::string& idempotency_key) {
    const std::string message = tenant + std::string(1, '\0') + idempotency_key;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
         message.size(), mac, &len);
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "st_";
    for (unsigned i = 0; i < 16 && i < len; ++i) {
        id += hex[mac[i] >> 4];
        id += hex[mac[i] & 0xf];
    }
    return id;
}

constexpr std::string_view kCancelledMark = "cancelled before its first attempt";

// A task's state as its jobs say (see sync_tasks.hpp).
mcp::TaskSnapshot snapshot(const storage::SyncTask& task, const std::vector<storage::SyncJobInfo>& jobs,
                           std::chrono::milliseconds keep_for) {
    mcp::TaskSnapshot out;
    out.id = task.id;
    out.created_at_ms = out.updated_at_ms = task.created_at_ms;
    out.ttl_ms = keep_for.count();
    out.poll_interval_ms = 1000;
    std::size_t final_jobs = 0, cancelled = 0;
    for (const auto& j : jobs) {
        out.updated_at_ms = std::max(out.updated_at_ms, j.updated_at_ms);
        const bool done = j.status == storage::JobStatus::succeeded || j.status == storage::JobStatus::failed ||
                          j.status == storage::JobStatus::dead;
        final_jobs += done ? 1 : 0;
        cancelled += j.status == storage::JobStatus::failed && j.last_error.find(kCancelledMark) != std::string::npos;
    }
    if (jobs.size() < task.job_ids.size()) {   // jobs purged by retention before the task: nothing left to report
        out.status = mcp::TaskStatus::failed;
        out.status_message = "the task's jobs were purged by retention";
        out.error = {{"code", -32603}, {"message", "the task's jobs are no longer stored"}};
        return out;
    }
    out.status_message = std::to_string(final_jobs) + " of " + std::to_string(jobs.size()) + " CRM job(s) finished";
    if (final_jobs < jobs.size()) return out;   // working
    if (task.cancel_requested && cancelled > 0) {
        out.status = mcp::TaskStatus::cancelled;
        out.status_message = std::to_string(cancelled) + " CRM job(s) cancelled before their first attempt";
        return out;
    }
    const auto c = context_from(task.context_json);
    out.status = mcp::TaskStatus::completed;
    out.result = summarize_sync(c.what, jobs, c.replayed, c.ignored, c.warnings);
    out.result["resultType"] = "complete";
    return out;
}

// A frozen task's snapshot (see storage::SyncTask::final_status).
mcp::TaskSnapshot frozen(const storage::SyncTask& task, std::chrono::milliseconds keep_for) {
    mcp::TaskSnapshot out;
    out.id = task.id;
    out.created_at_ms = task.created_at_ms;
    out.updated_at_ms = std::max(task.created_at_ms, task.finished_at_ms);
    out.ttl_ms = keep_for.count();
    out.poll_interval_ms = 1000;
    json::error_code ec;
    auto saved = json::parse(task.final_result, ec);
    const json::value* inner = !ec && saved.is_object() ? saved.get_object().if_contains("result") : nullptr;
    const json::object body = inner && inner->is_object() ? inner->get_object() : json::object{};
    if (task.final_status == "completed") {
        out.status = mcp::TaskStatus::completed;
        out.result = body;
    } else if (task.final_status == "cancelled") {
        out.status = mcp::TaskStatus::cancelled;
        out.status_message = "CRM job(s) cancelled before their first attempt";
    } else {
        out.status = mcp::TaskStatus::failed;
        out.error = body.empty() ? json::object{{"code", -32603}, {"message", "the task failed"}} : body;
    }
    return out;
}

// The task as it stands; the first time it is seen finished its outcome is frozen, so a later retry of its
// jobs (retry_sync, the admin CLI) never reopens it.
Result<mcp::TaskSnapshot> current(storage::Storage& s, const storage::SyncTask& task, std::chrono::milliseconds keep_for) {
    if (!task.final_status.empty()) return frozen(task, keep_for);
    auto jobs = read_jobs(s, task.tenant_id, task.job_ids);
    if (!jobs) return jobs.error();
    auto snap = snapshot(task, *jobs, keep_for);
    if (mcp::terminal(snap.status)) {
        const auto& body = snap.status == mcp::TaskStatus::failed ? snap.error : snap.result;
        if (auto f = s.freeze_sync_task(task.tenant_id, task.id, std::string(mcp::to_string(snap.status)),
                                        json::serialize(body), snap.updated_at_ms);
            !f)
            return f.error();
    }
    return snap;
}

Result<mcp::TaskSnapshot> load(storage::Storage& s, const std::string& tenant, const std::string& id,
                               std::chrono::milliseconds keep_for) {
    auto task = s.find_sync_task(tenant, id);
    if (!task) return task.error().code == storage::ErrorCode::not_found ? mcp::task_not_found() : task.error();
    return current(s, *task, keep_for);
}

// The cancelled task's job ids (their watchers are told).
Result<std::vector<std::string>> cancel_task(storage::Storage& s, const std::string& tenant, const std::string& id) {
    auto task = s.cancel_sync_task(tenant, id, now_ms());
    if (!task) return task.error().code == storage::ErrorCode::not_found ? mcp::task_not_found() : task.error();
    return std::move(task->job_ids);
}

Result<std::vector<std::string>> task_jobs(storage::Storage& s, const std::string& tenant, const std::string& id) {
    auto task = s.find_sync_task(tenant, id);
    if (!task) return task.error().code == storage::ErrorCode::not_found ? mcp::task_not_found() : task.error();
    return std::move(task->job_ids);
}

Result<void> task_exists(storage::Storage& s, const std::string& tenant, const std::string& id) {
    auto task = s.find_sync_task(tenant, id);
    if (!task) return task.error().code == storage::ErrorCode::not_found ? mcp::task_not_found() : task.error();
    return {};
}

Result<mcp::TaskSnapshot> create(storage::Storage& s, storage::SyncTask task, std::chrono::milliseconds keep_for) {
    if (auto made = s.create_sync_task(task); !made) {
        // A replay of an idempotent call: its id is taken by the first call's task, which answers instead.
        if (auto first = s.find_sync_task(task.tenant_id, task.id); first && first->job_ids == task.job_ids)
            return current(s, *first, keep_for);
        return made.error();
    }
    auto jobs = read_jobs(s, task.tenant_id, task.job_ids);
    if (!jobs) return jobs.error();
    return snapshot(task, *jobs, keep_for);
}

class SyncTaskBackend final : public mcp::TaskBackend {
public:
    SyncTaskBackend(SyncToolsDeps deps, std::chrono::milliseconds keep_for) : deps_(deps), keep_for_(keep_for) {}

    asio::awaitable<Result<mcp::TaskSnapshot>> get(const std::string& tenant, const std::string& id) override {
        const auto keep = keep_for_;
        co_return co_await deps_.team->storage().call(&load, tenant, id, keep);
    }
    asio::awaitable<Result<void>> cancel(const std::string& tenant, const std::string& id) override {
        auto jobs = co_await deps_.team->storage().call(&cancel_task, tenant, id);
        if (!jobs) co_return jobs.error();
        // Listen streams here hear of it at once (other instances through the cancel's NOTIFY).
        if (deps_.worker) deps_.worker->jobs_changed(*jobs);
        co_return Result<void>{};
    }
    // A task is its jobs: it may change whenever one of them does (SyncWorker's watchers hear of every attempt,
    // here or elsewhere, every cancel, and re-read after a notification gap).
    asio::awaitable<std::shared_ptr<void>> watch(const std::string& tenant, const std::string& id,
                                                 const std::function<void()>& changed) override {
        auto jobs = co_await deps_.team->storage().call(&task_jobs, tenant, id);
        if (!jobs || !deps_.worker) co_return nullptr;
        co_return deps_.worker->watch_scoped(std::move(*jobs), [changed](const storage::SyncJobInfo&) { changed(); });
    }
    // Sync tasks never ask for input: an update is acknowledged once the task is known to be the caller's.
    asio::awaitable<Result<void>> update(const std::string& tenant, const std::string& id, const json::object&) override {
        co_return co_await deps_.team->storage().call(&task_exists, tenant, id);
    }

private:
    SyncToolsDeps deps_;
    std::chrono::milliseconds keep_for_;
};

}  // namespace

Result<std::vector<storage::SyncJobInfo>> read_jobs(storage::Storage& s, const std::string& tenant,
                                                             const std::vector<std::string>& ids) {
    std::vector<storage::SyncJobInfo> out;
    for (const auto& id : ids) {
        storage::SyncJobQuery q;
        q.tenant_id = tenant;
        q.job_id = id;
        q.limit = 1;
        auto found = s.find_sync_jobs(q);
        if (!found) return found.error();
        for (auto& j : *found) out.push_back(std::move(j));
    }
    return out;
}

ToolResult summarize_sync(const std::string& what, const std::vector<storage::SyncJobInfo>& jobs, bool replayed,
                          const std::vector<std::string>& ignored, const std::vector<std::string>& warnings) {
    json::array results;
    std::size_t ok = 0, failed = 0;
    for (const auto& j : jobs) {
        const auto outcome = job_outcome(j);
        ok += outcome == "success" ? 1 : 0;
        failed += outcome == "error" ? 1 : 0;
        results.push_back(job_json(j));
    }
    const auto n = jobs.size();
    const auto pending = n - ok - failed;
    json::object fields{{"results", std::move(results)}, {"replayed", replayed}};
    if (!ignored.empty()) fields["ignoredFields"] = json::value_from(ignored);
    if (!warnings.empty()) fields["warnings"] = json::value_from(warnings);   // e.g. a local time in a DST overlap
    const std::string counts = std::to_string(ok) + " of " + std::to_string(n) + " CRM(s)";
    const std::string note = ignored_note(ignored);
    if (ok == n) return success(what + " synced to " + std::to_string(n) + " CRM(s)" + note, std::move(fields));
    if (failed == n) {
        std::string why;
        for (const auto& j : jobs) why += (why.empty() ? "" : "; ") + j.crm_type + ": " + j.last_error;
        return failure(what + " failed in every CRM (" + std::to_string(n) + "): " + why + note, std::move(fields));
    }
    if (failed == 0) {
        fields["status"] = "queued";
        fields["message"] = what + " synced to " + counts + "; " + std::to_string(pending) +
                            " still queued (get_sync_status shows progress)" + note;
    } else {
        fields["status"] = "partial";
        fields["message"] = what + " synced to " + counts + ", failed in " + std::to_string(failed) +
                            (pending ? ", " + std::to_string(pending) + " still queued" : std::string()) + note;
    }
    return structured_result(fields);
}


asio::awaitable<ToolResult> start_sync_task(const SyncToolsDeps& deps, const std::string& tenant,
                                            const std::vector<std::string>& job_ids, const SyncTaskContext& context,
                                            const std::string& idempotency_key) {
    storage::SyncTask task;
    task.id = idempotency_key.empty() || !deps.task_id_key ? mcp::new_task_id("st_")
                                                           : derived_task_id(*deps.task_id_key, tenant, idempotency_key);
    task.tenant_id = tenant;
    task.job_ids = job_ids;
    task.context_json = json::serialize(context_json(context));
    task.created_at_ms = now_ms();
    const auto keep = std::chrono::duration_cast<std::chrono::milliseconds>(deps.keep_tasks);
    auto made = co_await deps.team->storage().call(&create, std::move(task), keep);
    deps.worker->wake();
    if (made) co_return mcp::create_task_result(*made);   // committed: tasks/get already answers it
    // The jobs are committed and will run: answer as a client without the extension would be answered (the
    // queued jobs, followed with get_sync_status), saying why there is no task, never as an error that invites a
    // repeat (which, without an idempotency key, would sync twice).
    auto jobs = co_await deps.team->storage().call(&read_jobs, tenant, job_ids);
    auto warnings = context.warnings;
    warnings.push_back("no task could be stored (" + made.error().message +
                       "): follow these jobs with get_sync_status");
    if (!jobs) co_return failure("the sync was accepted, but neither its task nor its jobs can be read now: " +
                                 jobs.error().message + " (get_sync_status shows them)",
                                 {{"jobIds", json::value_from(job_ids)}});
    co_return summarize_sync(context.what, *jobs, context.replayed, context.ignored, warnings);
}

Result<void> freeze_finished_tasks(storage::Storage& s, const std::string& tenant, const storage::SyncJobQuery& query) {
    std::vector<std::string> ids;
    for (auto status : {storage::JobStatus::failed, storage::JobStatus::dead}) {
        auto q = query;
        q.status = status;
        auto jobs = s.find_sync_jobs(q);
        if (!jobs) return jobs.error();
        for (const auto& j : *jobs) ids.push_back(j.id);
    }
    auto tasks = s.open_sync_tasks_with_jobs(tenant, ids);
    if (!tasks) return tasks.error();
    for (const auto& t : *tasks)
        if (auto snap = current(s, t, std::chrono::milliseconds(0)); !snap) return snap.error();
    return {};
}

std::shared_ptr<mcp::TaskBackend> make_sync_task_backend(SyncToolsDeps deps, std::chrono::milliseconds keep_for) {
    return std::make_shared<SyncTaskBackend>(deps, keep_for);
}

}  // namespace rollout_mcp
