// Test-only tools: the MCP conformance suite's fixtures and a cheap `echo` for benchmarks. Registered
// only when [mcp] test_fixtures = true; never part of a production tool list.
#pragma once

namespace rollout_mcp {
class ToolRegistry;
void register_fixture_tools(ToolRegistry& registry);
}  // namespace rollout_mcp
