// The product's MCP tools (design.md section 4): Rollout and CRM connection set-up, tour and feedback
// sync, automations. Results always carry structuredContent {status, message, ...} and the same JSON as text.
#pragma once

#include "team_rollout.hpp"
#include "tool_registry.hpp"

#include <boost/json/object.hpp>

#include <string>

namespace rollout_mcp {

void register_rollout_tools(ToolRegistry& registry, TeamRollout& rollout);

// Shared by the tool files.
namespace tool_results {
ToolResult success(std::string message, boost::json::object fields = {});
ToolResult failure(std::string message, boost::json::object fields = {});
// A Rollout error as a tool error: "<what>: Rollout answered <kind> (HTTP n): <upstream message>".
ToolResult upstream(const std::string& what, const rollout::Error& error);
boost::json::object error_json(const rollout::Error& error);
// {type: object, properties: {status, message, ...extra}, required: [status, message]}
boost::json::object output_schema(boost::json::object extra_properties = {});
}  // namespace tool_results

void register_config_tools(ToolRegistry& registry, TeamRollout& rollout);
void register_sync_tools(ToolRegistry& registry, TeamRollout& rollout);

}  // namespace rollout_mcp
