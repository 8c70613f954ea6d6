// SqlStorage: tasks over sync jobs (storage/outbox.hpp, SyncTask). A task row never changes state itself:
// readers derive it from the jobs, so a job finishing needs no second write and cannot leave them disagreeing.
#include "storage/sql_storage.hpp"

#include "storage/postgres_listener.hpp"

#include <charconv>

#include <sodium.h>

#include <stdexcept>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

namespace {

std::string json_ids(const std::vector<std::string>& ids) {
    std::string out = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? ",\"" : "\"") + ids[i] + "\"";   // ids are [a-z0-9_]
    return out + "]";
}

bool plain_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return true;
}

constexpr const char* kTaskColumns =
    "id, tenant_id, job_ids, context, created_at, cancel_requested, coalesce(final_status, ''),"
    " coalesce(final_result, '')";

// A frozen result is {"__finishedAt":<ms>,"result":<the caller's JSON>}, written by freeze_sync_task (SQLite's
// json_object wrote the same text before): the finish time rides inside it, with no column of its own.
constexpr std::string_view kFinishedAtPrefix = "{\"__finishedAt\":";

std::int64_t finished_at_of(std::string_view frozen) {
    if (!frozen.starts_with(kFinishedAtPrefix)) return 0;
    frozen.remove_prefix(kFinishedAtPrefix.size());
    std::int64_t ms = 0;
    std::from_chars(frozen.data(), frozen.data() + frozen.size(), ms);
    return ms;
}

}  // namespace

Result<void> SqlStorage::create_sync_task(const SyncTask& task) {
    if (task.id.size() < 22 || !plain_id(task.id))
        return error(ErrorCode::invalid_argument, "task id must be 22-64 characters of [A-Za-z0-9_-]");
    if (task.job_ids.empty()) return error(ErrorCode::invalid_argument, "a task needs at least one job");
    for (const auto& id : task.job_ids)
        if (!plain_id(id)) return error(ErrorCode::invalid_argument, "job ids must be [A-Za-z0-9_-]");
    return guarded<void>("create sync task", [&]() -> Result<void> {
        Transaction tx(*db_);
        if (auto t = require_tenant(task.tenant_id); !t) return t.error();
        auto own = db_->cached("SELECT 1 FROM sync_jobs WHERE id = ?1 AND tenant_id = ?2");
        for (const auto& id : task.job_ids) {
            own->bind(1, id).bind(2, task.tenant_id);
            const bool found = own->step();
            own->reset();
            if (!found) return error(ErrorCode::invalid_argument, "job " + id + " is not one of this team's jobs");
        }
        auto ins = db_->cached(
            "INSERT INTO sync_tasks(id, tenant_id, job_ids, context, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
        ins->bind(1, task.id).bind(2, task.tenant_id).bind(3, json_ids(task.job_ids));
        ins->bind(4, task.context_json.empty() ? std::string_view("{}") : std::string_view(task.context_json));
        ins->bind(5, task.created_at_ms);
        ins->run();
        tx.commit();
        return {};
    });
}

SyncTask SqlStorage::read_task(Statement& st) {
    SyncTask t;
    t.id = st.text(0);
    t.tenant_id = st.text(1);
    const std::string ids = st.text(2);
    t.context_json = st.text(3);
    t.created_at_ms = st.int64(4);
    t.cancel_requested = st.int64(5) != 0;
    t.final_status = st.text(6);
    t.final_result = st.text(7);
    t.finished_at_ms = finished_at_of(t.final_result);
    auto each = db_->cached("SELECT value FROM json_each(?1) ORDER BY key");
    each->bind(1, ids);
    while (each->step()) t.job_ids.push_back(each->text(0));
    each->reset();
    return t;
}

Result<void> SqlStorage::freeze_sync_task(std::string_view tenant_id, std::string_view task_id,
                                             std::string_view status, std::string_view result_json,
                                             std::int64_t finished_at_ms) {
    return guarded<void>("freeze sync task", [&]() -> Result<void> {
        auto valid = db_->cached("SELECT json_valid(?1)");
        valid->bind(1, result_json);
        if (!result_json.empty() && !(valid->step() && valid->int64(0) == 1))
            return error(ErrorCode::invalid_argument, "a frozen task result must be JSON");
        const std::string frozen = std::string(kFinishedAtPrefix) + std::to_string(finished_at_ms) + ",\"result\":" +
                                   std::string(result_json.empty() ? std::string_view("null") : result_json) + "}";
        auto st = db_->cached(
            "UPDATE sync_tasks SET final_status = ?3, final_result = ?4"
            " WHERE id = ?1 AND tenant_id = ?2 AND final_status IS NULL");
        st->bind(1, task_id).bind(2, tenant_id).bind(3, status).bind(4, frozen);
        st->run();
        return {};
    });
}

Result<std::vector<SyncTask>> SqlStorage::open_sync_tasks_with_jobs(std::string_view tenant_id,
                                                                       const std::vector<std::string>& job_ids) {
    using Out = std::vector<SyncTask>;
    return guarded<Out>("open sync tasks with jobs", [&]() -> Result<Out> {
        Out out;
        if (job_ids.empty()) return out;
        std::string ids = "[";
        for (std::size_t i = 0; i < job_ids.size(); ++i) {
            if (!plain_id(job_ids[i])) return error(ErrorCode::invalid_argument, "job ids must be [A-Za-z0-9_-]");
            ids += (i ? ",\"" : "\"") + job_ids[i] + "\"";
        }
        ids += "]";
        auto st = db_->cached((std::string("SELECT ") + kTaskColumns +
                               " FROM sync_tasks WHERE tenant_id = ?1 AND final_status IS NULL AND EXISTS"
                               " (SELECT 1 FROM json_each(sync_tasks.job_ids) j, json_each(?2) w WHERE j.value = w.value)")
                                  .c_str());
        st->bind(1, tenant_id).bind(2, ids);
        std::vector<SyncTask> found;
        while (st->step()) found.push_back(read_task(*st));
        st->reset();
        return found;
    });
}

Result<SyncTask> SqlStorage::find_sync_task(std::string_view tenant_id, std::string_view task_id) {
    return guarded<SyncTask>("find sync task", [&]() -> Result<SyncTask> {
        auto st = db_->cached((std::string("SELECT ") + kTaskColumns +
                               " FROM sync_tasks WHERE id = ?1 AND tenant_id = ?2").c_str());
        st->bind(1, task_id).bind(2, tenant_id);
        if (!st->step()) return error(ErrorCode::not_found, "no such task");
        auto t = read_task(*st);
        st->reset();
        return t;
    });
}

Result<SyncTask> SqlStorage::cancel_sync_task(std::string_view tenant_id, std::string_view task_id,
                                                 std::int64_t now_ms) {
    auto task = find_sync_task(tenant_id, task_id);
    if (!task) return task;
    return guarded<SyncTask>("cancel sync task", [&]() -> Result<SyncTask> {
        Transaction tx(*db_);
        auto mark = db_->cached("UPDATE sync_tasks SET cancel_requested = 1 WHERE id = ?1 AND tenant_id = ?2");
        mark->bind(1, task_id).bind(2, tenant_id);
        mark->run();
        // Only jobs no worker has ever claimed (claim_token counts claims and survives retry_sync's reset of
        // attempts): a job that was claimed once may already have written to the CRM.
        auto fail = db_->cached(
            "UPDATE sync_jobs SET status = 'failed', finished_at = ?3, updated_at = ?3,"
            " last_error = 'cancelled before its first attempt (tasks/cancel)', last_http_status = 0"
            " WHERE id = ?1 AND tenant_id = ?2 AND status = 'queued' AND attempts = 0 AND recover = 0"
            " AND claim_token = 0");
        for (const auto& id : task->job_ids) {
            fail->bind(1, id).bind(2, tenant_id).bind(3, now_ms);
            fail->run();
            fail->reset();
        }
        // Watchers of these jobs on other instances (listen streams) read the task again.
        notify_others(kJobAttemptChannel, task->job_ids);
        tx.commit();
        task->cancel_requested = true;
        return std::move(*task);
    });
}

crypto::SecretBytes SqlStorage::derive_purpose_key(std::uint64_t id, std::string_view context) const {
    // Purposes must not collide with the keyring's wrapping contexts (crypto/keyring.cpp), which use other ids.
    if (context.size() != crypto_kdf_CONTEXTBYTES) throw std::logic_error("a key purpose context is 8 characters");
    crypto::SecretBytes key(crypto_kdf_KEYBYTES);
    crypto_kdf_derive_from_key(key.data(), key.size(), id, std::string(context).c_str(), master_.key.data());
    return key;
}

}  // namespace rollout_mcp::storage
