// The MCP tool registry: each tool's name, description, JSON Schemas, annotations and handler coroutine.
// Arguments are validated against the input schema before a handler runs; tool lists are serialized once.
#pragma once

#include "server/mcp/param_headers.hpp"
#include "server/mcp/protocol.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/trace_context.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp {

inline constexpr std::string_view kTasksExtension = "io.modelcontextprotocol/tasks";
struct SessionlessServices;

// What the request that runs a tool carried besides its arguments.
struct CallInfo {
    bool sessionless = false;                 // a 2026-07-28 request (no session)
    boost::json::object client_capabilities;  // declared in this request's _meta (sessionless only)
    bool tasks = false;                       // the request declared the Tasks extension
    mcp::TraceContext trace;                  // validated W3C trace context, if any
    boost::json::object params;               // the request's params (inputResponses, requestState, ...)
    const SessionlessServices* services = nullptr;   // sessionless only: request state codec, tasks, listeners
};

// What a running tool can do besides returning its result.
class ToolContext {
public:
    virtual ~ToolContext() = default;
    virtual const CallInfo& call() const {
        static const CallInfo none;
        return none;
    }
    virtual const std::string& tenant() const = 0;
    virtual mcp::Revision revision() const = 0;
    // notifications/progress on the request's stream (dropped when the client sent no progressToken).
    virtual void progress(double value, std::optional<double> total, std::string_view message = {}) = 0;
    // notifications/message on the request's stream, when at or above the session's log level.
    virtual void log(mcp::LogLevel level, boost::json::value data) = 0;
    // Ends the HTTP response carrying the request's stream; the client resumes it with Last-Event-ID.
    virtual void end_sse_connection() = 0;
};

// A tools/call result: {content: [...], structuredContent?, isError?}; under 2026-07-28 a handler may instead
// return a task ({resultType: "task", taskId, ...}) or an input-required result ({resultType: "input_required",
// inputRequests, requestState?}), which go out as they are.
using ToolResult = boost::json::object;

// Thrown by a handler to answer with a JSON-RPC error instead of a result (e.g. -32602 for a tampered
// requestState). HTTP 400 when the reply is a plain JSON body.
struct ToolProtocolError : std::runtime_error {
    ToolProtocolError(int code, std::string message, boost::json::value data = nullptr)
        : std::runtime_error(message), code(code), data(std::move(data)) {}
    int code;
    boost::json::value data;
};

enum class TaskSupport { forbidden, optional, required };
using ToolHandler = std::function<boost::asio::awaitable<ToolResult>(ToolContext&, const boost::json::object&)>;

struct ToolDefinition {
    std::string name;
    std::string title;
    std::string description;
    boost::json::object input_schema;
    std::optional<boost::json::object> output_schema;
    boost::json::object annotations;
    bool streams = false;   // emits progress/logs or runs long: always answered as an SSE stream
    // Tasks extension: optional = a task when the request declares the extension, else in line; required = a
    // request without it gets -32021 before the handler runs.
    TaskSupport task_support = TaskSupport::forbidden;
    // Client capabilities a sessionless request must declare (e.g. {"sampling": {}}), else -32021.
    boost::json::object required_capabilities = {};
    ToolHandler handler;
    std::vector<mcp::HeaderParam> header_params = {};   // filled by ToolRegistry::add from the input schema
};

// Helpers for handlers.
ToolResult text_result(std::string_view text, bool is_error = false);
// structuredContent plus the same JSON as text, for clients that read only text.
ToolResult structured_result(const boost::json::object& structured, bool is_error = false);

class ToolRegistry {
public:
    ToolRegistry();
    ~ToolRegistry();
    ToolRegistry(const ToolRegistry&) = delete;
    ToolRegistry& operator=(const ToolRegistry&) = delete;

    // Throws std::invalid_argument for a bad name, a duplicate, or a schema that cannot be compiled.
    void add(ToolDefinition tool);
    const ToolDefinition* find(std::string_view name) const;
    std::size_t size() const;

    // nullopt when `arguments` satisfy the tool's input schema, else "<field path>: <rule>".
    std::optional<std::string> validate_arguments(const ToolDefinition& tool,
                                                  const boost::json::object& arguments) const;

    // The serialized tools/list result for a page; nullopt for a cursor this registry never issued. Under a
    // revision with result types it carries resultType and the caching hints (ttlMs, cacheScope "public": the
    // list is the same for every caller).
    std::optional<std::string> list_page(mcp::Revision revision, std::string_view cursor,
                                         std::size_t page_size) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rollout_mcp
