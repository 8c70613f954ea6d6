// The Tasks extension's protocol side (`io.modelcontextprotocol/tasks`, https://github.com/modelcontextprotocol/ext-tasks,
// specification/2026-07-28/tasks.md; docs/ARCHITECTURE.md "Tasks"): what a task looks like on the wire, and the
// backends that own tasks. A backend answers for the ids it minted (routed by prefix) and checks the caller's
// team on every call: another team's id is "not found", exactly like an id that never existed.
#pragma once

#include "base/result.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::mcp {

enum class TaskStatus { working, input_required, completed, failed, cancelled };
std::string_view to_string(TaskStatus status);
bool terminal(TaskStatus status);

struct TaskSnapshot {
    std::string id;
    TaskStatus status = TaskStatus::working;
    std::string status_message;                // "" = none
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    std::optional<std::int64_t> ttl_ms;         // nullopt = kept without limit
    std::int64_t poll_interval_ms = 1000;
    boost::json::object result;                 // completed: the tool result, exactly as the call would return it
    boost::json::object error;                  // failed: {code, message}
    boost::json::object input_requests;         // input_required: every outstanding request by key
};

// The task fields shared by every shape: taskId, status, statusMessage?, createdAt, lastUpdatedAt, ttlMs,
// pollIntervalMs.
boost::json::object task_fields(const TaskSnapshot& task);
// CreateTaskResult: resultType "task" and the task fields, never result/error/inputRequests.
boost::json::object create_task_result(const TaskSnapshot& task);
// DetailedTask (tasks/get, notifications/tasks): the fields plus result, error or inputRequests by status.
boost::json::object detailed_task(const TaskSnapshot& task);

// A fresh task id: prefix + 32 lowercase hex characters (128 random bits).
std::string new_task_id(std::string_view prefix);

class TaskBackend {
public:
    virtual ~TaskBackend() = default;
    // References: the caller's frame owns the arguments until the call completes (GCC 12 mishandles parameter
    // temporaries inside co_await expressions).
    // task_not_found() for unknown ids and for another team's (the same answer).
    virtual boost::asio::awaitable<Result<TaskSnapshot>> get(const std::string& tenant, const std::string& id) = 0;
    // Idempotent: a terminal task is left as it is.
    virtual boost::asio::awaitable<Result<void>> cancel(const std::string& tenant, const std::string& id) = 0;
    // Applies the responses to outstanding input requests (unknown keys ignored) before it returns.
    virtual boost::asio::awaitable<Result<void>> update(const std::string& tenant, const std::string& id,
                                                       const boost::json::object& input_responses) = 0;
    // Pushes changes (subscriptions/listen, sessionless_tasks.cpp): `changed` is called, from any thread, whenever
    // the task may have changed (here or on another instance, or after a gap in what was heard), until the returned
    // handle goes. nullptr when the backend cannot push (or the task is unknown): the watcher polls instead.
    virtual boost::asio::awaitable<std::shared_ptr<void>> watch(const std::string& tenant, const std::string& id,
                                                               const std::function<void()>& changed) {
        (void)tenant, (void)id, (void)changed;
        co_return nullptr;
    }
    // The server is stopping: work the backend drives itself ends now (stored tasks are unaffected).
    virtual void shutdown() {}
};

// Routes a task id to the backend that minted it, by id prefix.
class TaskRouter {
public:
    void add(std::string prefix, std::shared_ptr<TaskBackend> backend);
    TaskBackend* find(std::string_view id) const;
    bool empty() const { return routes_.empty(); }
    void shutdown() const {
        for (const auto& route : routes_) route.second->shutdown();
    }

private:
    std::vector<std::pair<std::string, std::shared_ptr<TaskBackend>>> routes_;
};

Error task_not_found();

}  // namespace rollout_mcp::mcp
