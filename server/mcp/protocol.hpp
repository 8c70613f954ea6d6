// MCP protocol revisions and what each one allows: the one policy place for per-revision differences.
// 2025 revisions are served in sessions (initialize, Mcp-Session-Id); 2026-07-28 is sessionless: each request
// carries its revision and client capabilities in `_meta` (https://modelcontextprotocol.io/specification/2026-07-28/changelog).
#pragma once

#include <optional>
#include <string_view>

namespace rollout_mcp::mcp {

enum class Revision { v2025_03_26, v2025_06_18, v2025_11_25, v2026_07_28 };

// The newest revision an `initialize` session can have, and the newest sessionless one.
constexpr Revision kLatestSessionRevision = Revision::v2025_11_25;
constexpr Revision kLatestRevision = Revision::v2026_07_28;
constexpr std::string_view kStatelessRevisions[] = {"2026-07-28"};

std::optional<Revision> parse_revision(std::string_view text);
std::string_view to_string(Revision revision);

// The version answered to an `initialize` request: the requested one when it is a session revision, else
// the latest session revision (a 2026-07-28 client that sends initialize gets 2025-11-25).
Revision negotiate(std::string_view requested);

struct RevisionPolicy {
    bool sessions;                  // initialize + Mcp-Session-Id (false: every request stands alone)
    bool batching;                  // JSON-RPC arrays accepted (2025-03-26 only)
    bool sse_priming;               // every SSE stream starts with an id-only event + retry
    bool structured_output;         // title, outputSchema, structuredContent exist
    bool invalid_arguments_as_tool_error;  // bad tool input is an isError result, not -32602
    bool result_type;               // every result carries resultType; list results carry ttlMs/cacheScope
    bool log_only_when_asked;       // notifications/message only for a request that set a log level in _meta
};

RevisionPolicy policy(Revision revision);

}  // namespace rollout_mcp::mcp
