// Sessionless task methods and subscriptions/listen (see sessionless_dispatch.hpp; the Tasks extension:
// https://github.com/modelcontextprotocol/ext-tasks, specification/2026-07-28/tasks.md). Order of checks: the
// extension must be declared (-32021) before params (-32602) and before the id is looked up, so an unknown id
// from a client without the extension still learns what it is missing.
#include "server/mcp/sessionless_dispatch.hpp"

#include "base/use_nothrow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/serialize.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;
using mcp::sessionless_error;

namespace {

constexpr std::size_t kMaxWatchedTasks = 32;   // task ids one listen stream may follow

HttpReply missing_tasks_extension(const json::value& id) {
    const json::value data = json::object{
        {"requiredCapabilities", json::object{{"extensions", json::object{{kTasksExtension, json::object{}}}}}}};
    return sessionless_error(id, mcp::code::missing_required_client_capability,
                             "Missing required client capability: tasks need the io.modelcontextprotocol/tasks extension "
                             "in _meta io.modelcontextprotocol/clientCapabilities",
                             &data);
}

HttpReply ack(const json::value& id) { return json_reply(jsonrpc::result(id, json::object{{"resultType", "complete"}})); }

bool is_not_found(const Error& e) { return e.code == mcp::task_not_found().code; }

// "No such task" only when the backend says so; a store that cannot answer now is a retryable 503, so a client
// never mistakes a busy database for a lost task (and re-submits the sync).
HttpReply task_failure(const json::value& id, const Error& e) {
    if (is_not_found(e)) return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: no such task");
    auto reply = sessionless_error(id, jsonrpc::code::internal_error, "the task store cannot answer now; retry", nullptr, 503);
    reply.headers.emplace_back("Retry-After", "1");
    return reply;
}

// How a listen stream follows its tasks: a backend that pushes changes (sync tasks: an attempt or a cancel here,
// another instance's through LISTEN/NOTIFY) wakes the watcher, which reads just the tasks that changed, at most one
// round per kMinRoundGap; a slow safety poll reads every task in case a push was lost. Tasks whose backend cannot
// push are polled as before. Reads per stream stay bounded: 32 tasks, at most every kMinRoundGap.
constexpr auto kMinRoundGap = std::chrono::milliseconds(200);
constexpr auto kPollUnpushed = std::chrono::seconds(2);   // also how often a finished stream is noticed
constexpr auto kSafetyPoll = std::chrono::seconds(20);

struct TaskWatcher {
    explicit TaskWatcher(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::set<std::string> dirty;   // the watcher's strand only: pushed since the last round
};

// Until the next round is due: a push (after kMinRoundGap), a poll, or the stream's end (false).
asio::awaitable<bool> wait_for_round(TaskWatcher& w, const std::weak_ptr<mcp::EventStream>& weak,
                                     std::chrono::steady_clock::time_point last_round,
                                     std::chrono::steady_clock::time_point next_poll) {
    using clock = std::chrono::steady_clock;
    for (;;) {
        if (auto s = weak.lock(); !s || s->finished()) co_return false;
        const auto now = clock::now();
        if (now >= next_poll || (!w.dirty.empty() && now >= last_round + kMinRoundGap)) co_return true;
        w.timer.expires_at(!w.dirty.empty() ? last_round + kMinRoundGap : std::min(next_poll, now + kPollUnpushed));
        co_await w.timer.async_wait(use_nothrow);
    }
}

// Follows some tasks for one listen stream (on a strand of its own): a notifications/tasks whenever one changes,
// until every one is terminal or the stream is gone.
asio::awaitable<void> watch_tasks(mcp::TaskRouter* router, std::string tenant, std::vector<std::string> ids,
                                  std::weak_ptr<mcp::EventStream> weak, json::value subscription_id) {
    using clock = std::chrono::steady_clock;
    const auto executor = co_await asio::this_coro::executor;
    auto watcher = std::make_shared<TaskWatcher>(executor);
    std::vector<std::shared_ptr<void>> pushes;   // the backends' watch handles: dropped when this ends
    std::set<std::string> unpushed;
    for (const auto& id : ids) {
        auto* backend = router->find(id);
        if (!backend) continue;
        const std::function<void()> changed = [weak_w = std::weak_ptr<TaskWatcher>(watcher), executor, id] {
            asio::post(executor, [weak_w, id] {
                if (auto w = weak_w.lock()) {
                    w->dirty.insert(id);
                    w->timer.cancel();
                }
            });
        };
        auto handle = co_await backend->watch(tenant, id, changed);
        if (handle) pushes.push_back(std::move(handle));
        else unpushed.insert(id);
    }
    std::map<std::string, std::pair<mcp::TaskStatus, std::int64_t>> seen;
    std::set<std::string> open(ids.begin(), ids.end());
    auto next_safety = clock::now();   // the first round reads every task
    auto next_unpushed = clock::now() + kPollUnpushed;
    for (;;) {
        const auto now = clock::now();
        std::set<std::string> round;
        if (now >= next_safety) {
            round = open;
            next_safety = now + kSafetyPoll;
        } else {
            for (const auto& id : watcher->dirty)
                if (open.count(id)) round.insert(id);
            if (now >= next_unpushed)
                for (const auto& id : unpushed)
                    if (open.count(id)) round.insert(id);
        }
        if (now >= next_unpushed) next_unpushed = now + kPollUnpushed;
        watcher->dirty.clear();
        for (const auto& id : round) {
            auto* backend = router->find(id);
            if (!backend) {
                open.erase(id);
                continue;
            }
            auto task = co_await backend->get(tenant, id);
            if (!task) {
                if (is_not_found(task.error())) open.erase(id);   // else the store could not answer: ask again later
                continue;
            }
            if (mcp::terminal(task->status)) open.erase(id);
            const auto key = std::make_pair(task->status, task->updated_at_ms);
            auto it = seen.find(id);
            if (it != seen.end() && it->second == key) continue;
            seen[id] = key;
            if (auto s = weak.lock())
                s->append(mcp::ListenHub::tagged("notifications/tasks", mcp::detailed_task(*task), subscription_id));
        }
        if (open.empty()) co_return;
        bool polls = false;
        for (const auto& id : unpushed) polls = polls || open.count(id) != 0;
        const auto next_poll = polls ? std::min(next_safety, next_unpushed) : next_safety;
        if (!co_await wait_for_round(*watcher, weak, now, next_poll)) co_return;
    }
}

}  // namespace

asio::awaitable<HttpReply> SessionlessDispatcher::task_method(const mcp::SessionlessCall& call, const std::string& tenant) {
    const auto& id = call.message.id;
    const auto& params = *call.message.params;
    if (!mcp::declares(call.client_capabilities, {"extensions", kTasksExtension})) co_return missing_tasks_extension(id);
    const auto* task_id = params.if_contains("taskId");
    if (!task_id || !task_id->is_string())
        co_return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: taskId must be a string");
    const std::string tid(task_id->get_string());
    auto* backend = services_.tasks->find(tid);
    const auto& method = call.message.method;
    if (method == "tasks/update") {
        const auto* responses = params.if_contains("inputResponses");
        if (!responses || !responses->is_object())
            co_return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: inputResponses must be an object");
        if (!backend) co_return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: no such task");
        const auto& answers = responses->get_object();
        auto done = co_await backend->update(tenant, tid, answers);
        if (!done) co_return task_failure(id, done.error());
        co_return ack(id);
    }
    if (!backend) co_return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: no such task");
    if (method == "tasks/cancel") {
        auto done = co_await backend->cancel(tenant, tid);
        if (!done) co_return task_failure(id, done.error());
        co_return ack(id);
    }
    auto task = co_await backend->get(tenant, tid);
    if (!task) co_return task_failure(id, task.error());
    auto result = mcp::detailed_task(*task);
    result["resultType"] = "complete";
    co_return json_reply(jsonrpc::result(id, result));
}

asio::awaitable<HttpReply> SessionlessDispatcher::listen(const mcp::SessionlessCall& call, const std::string& tenant) {
    const auto& id = call.message.id;
    const auto* wanted_v = call.message.params->if_contains("notifications");
    if (!wanted_v || !wanted_v->is_object())
        co_return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: notifications must be an object");
    const auto& wanted = wanted_v->get_object();
    auto flag = [&](const char* key) {
        const auto* v = wanted.if_contains(key);
        return v && v->is_bool() && v->get_bool();
    };
    mcp::ListenFilter filter;
    json::object honoured;
    if (flag("toolsListChanged")) {
        filter.tools_list_changed = true;
        honoured["toolsListChanged"] = true;
    }
    std::vector<std::string> task_ids;
    if (const auto* ids = wanted.if_contains("taskIds")) {
        if (!mcp::declares(call.client_capabilities, {"extensions", kTasksExtension})) co_return missing_tasks_extension(id);
        if (!ids->is_array() || ids->get_array().size() > kMaxWatchedTasks)
            co_return sessionless_error(id, jsonrpc::code::invalid_params,
                                        "Invalid params: notifications.taskIds must be an array of at most " +
                                            std::to_string(kMaxWatchedTasks) + " task ids");
        json::array agreed;
        for (const auto& v : ids->get_array()) {
            if (!v.is_string() || !services_.tasks) continue;
            const std::string tid(v.get_string());
            if (std::find(task_ids.begin(), task_ids.end(), tid) != task_ids.end()) continue;   // once each
            auto* backend = services_.tasks->find(tid);
            if (!backend) continue;
            auto found = co_await backend->get(tenant, tid);   // named: no temporary inside the co_await
            if (!found) continue;   // unknown or another team's: left out
            task_ids.push_back(tid);
            agreed.emplace_back(tid);
        }
        honoured["taskIds"] = std::move(agreed);
    }
    auto stream = services_.listen ? services_.listen->open(tenant, filter, id, std::move(honoured)) : nullptr;
    if (!stream) {
        auto reply = sessionless_error(id, jsonrpc::code::server_busy,
                                       "Too many open subscriptions/listen streams for this team; close one first",
                                       nullptr, 429);
        reply.headers.emplace_back("Retry-After", "5");
        co_return reply;
    }
    std::uint64_t generation = 0;
    stream->attach(0, nullptr, false, &generation);
    if (!task_ids.empty()) {
        const auto executor = co_await asio::this_coro::executor;
        // A strand of its own: the backends' pushes are posted to it, and they touch the watcher's timer.
        asio::co_spawn(asio::make_strand(executor), watch_tasks(services_.tasks, tenant, std::move(task_ids), stream, id),
                       asio::detached);
    }
    SseReply sse;
    sse.stream = std::move(stream);
    sse.epoch = calls_.epoch();
    sse.after_seq = 0;
    sse.generation = generation;
    sse.prime = false;
    sse.retry_ms = static_cast<std::uint64_t>(config_.mcp.sse_retry.count());
    HttpReply reply;
    reply.sse = std::move(sse);
    co_return reply;
}

}  // namespace rollout_mcp
