// The product's MCP tools (README, "Tools"; docs/ARCHITECTURE.md, "One sync_tour_data call"): Rollout and CRM
// connection set-up, tour and feedback sync, automations. Results always carry structuredContent {status, message,
// ...} and the same JSON as text.
#pragma once

#include "server/sync/team_rollout.hpp"
#include "server/mcp/tool_registry.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace rollout_mcp {

class SyncWorker;
class HookSubscriptions;

// What the sync tools need besides the team's Rollout access.
struct SyncToolsDeps {
    TeamRollout* team = nullptr;
    SyncWorker* worker = nullptr;
    std::chrono::milliseconds wait{10'000};   // sync.wait_ms: how long a call waits for first attempts
    std::chrono::seconds keep_tasks{7 * 86'400};   // sync.keep_idempotency: tasks are purged with idempotency keys
    // 32 secret bytes (master-derived): a call with an idempotency key gets the task id HMAC(key, team, key), so
    // its replays answer with the same task instead of a second one over the same jobs. Empty: random ids.
    std::shared_ptr<const std::string> task_id_key = {};
};

// `hooks`: subscribes a connection to Rollout's webhooks when it is configured and unsubscribes it when it is
// removed (server/sync/hook_subscriptions.hpp); null: neither.
void register_rollout_tools(ToolRegistry& registry, TeamRollout& rollout, SyncToolsDeps sync,
                           HookSubscriptions* hooks = nullptr);

// Shared by the tool files.
namespace tool_results {
ToolResult success(std::string message, boost::json::object fields = {});
ToolResult failure(std::string message, boost::json::object fields = {});
// A Rollout error as a tool error: "<what>: Rollout answered <kind> (HTTP n): <upstream message>".
ToolResult upstream(const std::string& what, const Error& error);
boost::json::object error_json(const Error& error);
// {type: object, properties: {status, message, ...extra}, required: [status, message]}
boost::json::object output_schema(boost::json::object extra_properties = {});
// A handler calling fn(deps, ctx, args).
template <class Deps, class Fn>
ToolHandler bind_deps(Deps deps, Fn fn) {
    return [deps, fn](ToolContext& ctx, const boost::json::object& args) { return fn(deps, ctx, args); };
}
}  // namespace tool_results

void register_config_tools(ToolRegistry& registry, TeamRollout& rollout, HookSubscriptions* hooks = nullptr);
void register_sync_tools(ToolRegistry& registry, SyncToolsDeps deps);
void register_sync_status_tools(ToolRegistry& registry, SyncToolsDeps deps);   // get_sync_status, retry_sync
void register_automation_tool(ToolRegistry& registry, TeamRollout& rollout);

}  // namespace rollout_mcp
