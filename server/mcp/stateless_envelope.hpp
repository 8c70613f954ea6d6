// The envelope of a sessionless (2026-07-28) request: which requests are sessionless, and the checks every one
// of them passes before dispatch, in the order of the revision's transport rules
// (https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http, "Standard headers";
// docs/ARCHITECTURE.md, "Two protocol eras"): MCP-Protocol-Version present and equal to
// `_meta.io.modelcontextprotocol/protocolVersion`, the required `_meta` keys, a supported revision, and
// Mcp-Method / Mcp-Name equal to the body's method and name. Pure: no I/O, fuzzable.
#pragma once

#include "server/mcp/http_message.hpp"
#include "server/mcp/json_rpc.hpp"
#include "server/mcp/protocol.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/trace_context.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <variant>

namespace rollout_mcp::mcp {

namespace code {
constexpr int header_mismatch = -32020;                     // 2026-07-28: HeaderMismatch
constexpr int missing_required_client_capability = -32021;  // MissingRequiredClientCapability
constexpr int unsupported_protocol_version = -32022;        // UnsupportedProtocolVersion
}  // namespace code

inline constexpr std::string_view kMetaProtocolVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view kMetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr std::string_view kMetaClientInfo = "io.modelcontextprotocol/clientInfo";
inline constexpr std::string_view kMetaLogLevel = "io.modelcontextprotocol/logLevel";
inline constexpr std::string_view kMetaServerInfo = "io.modelcontextprotocol/serverInfo";
inline constexpr std::string_view kMetaSubscriptionId = "io.modelcontextprotocol/subscriptionId";

// A request outside any session that belongs to the sessionless era: no Mcp-Session-Id, and either an
// MCP-Protocol-Version header naming no session revision or a `_meta` protocolVersion (then even `initialize`
// is sessionless, and answered as a removed method).
bool is_sessionless(const HttpRequest& request, const jsonrpc::Message& message);

// A checked sessionless request.
struct SessionlessCall {
    jsonrpc::Message message;                 // a request or a notification
    Revision revision = kLatestRevision;
    boost::json::object client_capabilities;  // as declared in _meta (may be empty)
    std::optional<LogLevel> log_level;        // _meta logLevel: log notifications only when set
    TraceContext trace;
};

// The call, or the reply refusing it (HTTP 400 with -32020 / -32022 / -32602, naming what is wrong).
std::variant<SessionlessCall, HttpReply> check_envelope(const HttpRequest& request, const jsonrpc::Message& message);

// The name Mcp-Name must carry for `method` (params.name, params.uri or params.taskId), if any.
std::optional<std::string_view> expected_mcp_name(const jsonrpc::Message& message);

// Does the client declare capability `path` (e.g. {"elicitation"} or {"extensions", "io.modelcontextprotocol/tasks"})?
bool declares(const boost::json::object& capabilities, std::initializer_list<std::string_view> path);

// A 400 reply carrying a JSON-RPC error with the request's id.
HttpReply sessionless_error(const boost::json::value& id, int code, std::string_view message,
                            const boost::json::value* data = nullptr, unsigned status = 400);

}  // namespace rollout_mcp::mcp
