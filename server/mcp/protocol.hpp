// MCP protocol revisions and what each one allows (one policy table, so a later revision such as the
// stateless 2026-07-28 slots in without touching the transport).
#pragma once

#include <optional>
#include <string_view>

namespace rollout_mcp::mcp {

enum class Revision { v2025_03_26, v2025_06_18, v2025_11_25 };

constexpr Revision kLatestRevision = Revision::v2025_11_25;

std::optional<Revision> parse_revision(std::string_view text);
std::string_view to_string(Revision revision);

// The version answered to an `initialize` request: the requested one when supported, else the latest.
Revision negotiate(std::string_view requested);

struct RevisionPolicy {
    bool batching;                  // JSON-RPC arrays accepted (2025-03-26 only)
    bool sse_priming;               // every SSE stream starts with an id-only event + retry
    bool structured_output;         // title, outputSchema, structuredContent exist
    bool invalid_arguments_as_tool_error;  // bad tool input is an isError result, not -32602
};

RevisionPolicy policy(Revision revision);

}  // namespace rollout_mcp::mcp
