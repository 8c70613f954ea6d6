// Task wire shapes and routing (see tasks.hpp).
#include "server/mcp/tasks.hpp"

#include "base/utc_time.hpp"
#include "server/mcp/session.hpp"   // random_session_id: 128 CSPRNG bits as hex

#include <system_error>

namespace rollout_mcp::mcp {
namespace json = boost::json;


std::string_view to_string(TaskStatus status) {
    switch (status) {
        case TaskStatus::working: return "working";
        case TaskStatus::input_required: return "input_required";
        case TaskStatus::completed: return "completed";
        case TaskStatus::failed: return "failed";
        case TaskStatus::cancelled: return "cancelled";
    }
    return "working";
}

bool terminal(TaskStatus status) {
    return status == TaskStatus::completed || status == TaskStatus::failed || status == TaskStatus::cancelled;
}

json::object task_fields(const TaskSnapshot& task) {
    json::object o{{"taskId", task.id}, {"status", to_string(task.status)}};
    if (!task.status_message.empty()) o["statusMessage"] = task.status_message;
    o["createdAt"] = iso8601_utc_ms(task.created_at_ms);
    o["lastUpdatedAt"] = iso8601_utc_ms(task.updated_at_ms);
    o["ttlMs"] = task.ttl_ms ? json::value(*task.ttl_ms) : json::value(nullptr);
    o["pollIntervalMs"] = task.poll_interval_ms;
    return o;
}

json::object create_task_result(const TaskSnapshot& task) {
    json::object o = task_fields(task);
    o["resultType"] = "task";
    return o;
}

json::object detailed_task(const TaskSnapshot& task) {
    json::object o = task_fields(task);
    if (task.status == TaskStatus::completed) o["result"] = task.result;
    if (task.status == TaskStatus::failed) o["error"] = task.error;
    if (task.status == TaskStatus::input_required) o["inputRequests"] = task.input_requests;
    return o;
}

std::string new_task_id(std::string_view prefix) { return std::string(prefix) + random_session_id(); }

void TaskRouter::add(std::string prefix, std::shared_ptr<TaskBackend> backend) {
    routes_.emplace_back(std::move(prefix), std::move(backend));
}

TaskBackend* TaskRouter::find(std::string_view id) const {
    for (const auto& [prefix, backend] : routes_)
        if (id.size() > prefix.size() && id.substr(0, prefix.size()) == prefix) return backend.get();
    return nullptr;
}

Error task_not_found() {
    return Error{std::make_error_code(std::errc::no_such_file_or_directory), "no such task"};
}

}  // namespace rollout_mcp::mcp
