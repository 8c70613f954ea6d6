// Methods of sessionless (2026-07-28) requests on /mcp (docs/ARCHITECTURE.md, "Two protocol eras"):
// server/discover, tools/list, tools/call (tasks, required client capabilities, Mcp-Param-* headers),
// prompts for the test fixtures, subscriptions/listen, tasks/get|update|cancel, and events/* (sessionless_events.cpp). Methods the revision
// removed (initialize, ping, logging/setLevel, resources/subscribe|unsubscribe) and unknown ones get HTTP 404
// with -32601. Every result carries resultType; list and discover results carry the caching hints.
#pragma once

#include "server/app/config.hpp"
#include "server/mcp/events.hpp"
#include "server/mcp/http_message.hpp"
#include "server/mcp/listen_hub.hpp"
#include "server/mcp/mcp_dispatch.hpp"
#include "server/mcp/request_state.hpp"
#include "server/mcp/stateless_envelope.hpp"
#include "server/mcp/tasks.hpp"
#include "server/mcp/tool_registry.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <memory>

namespace rollout_mcp {

// A prompt served to sessionless clients (the test fixtures only): params -> GetPromptResult or input_required.
struct PromptDefinition {
    std::string name;
    std::string description;
    std::function<boost::json::object(const std::string& tenant, const boost::json::object& params)> get;
};

// What the sessionless methods use besides the tool registry; owned by main (or a test), outliving the server.
struct SessionlessServices {
    mcp::ListenHub* listen = nullptr;
    mcp::TaskRouter* tasks = nullptr;
    const mcp::RequestStateCodec* request_state = nullptr;
    std::vector<PromptDefinition> prompts = {};
    // Test fixtures: declare resources and answer resources/list and resources/templates/list with empty lists
    // (resources/read: -32602, "Resource not found", data.uri) so the caching scenario can run.
    bool empty_resources = false;
    // The Events extension (events/list|poll|subscribe|unsubscribe); nullptr: not offered.
    mcp::EventsBackend* events = nullptr;
};

class SessionlessDispatcher {
public:
    SessionlessDispatcher(const Config& config, const ToolRegistry& tools, McpDispatcher& calls,
                          SessionlessServices services);

    boost::asio::awaitable<HttpReply> handle(const HttpRequest& request, const jsonrpc::Message& message,
                                             const std::string& tenant);

private:
    HttpReply discover(const mcp::SessionlessCall& call) const;
    boost::asio::awaitable<HttpReply> call_tool(const HttpRequest& request, const mcp::SessionlessCall& call,
                                                const std::string& tenant);
    HttpReply get_prompt(const mcp::SessionlessCall& call, const std::string& tenant) const;
    boost::asio::awaitable<HttpReply> listen(const mcp::SessionlessCall& call, const std::string& tenant);
    boost::asio::awaitable<HttpReply> task_method(const mcp::SessionlessCall& call, const std::string& tenant);
    boost::asio::awaitable<HttpReply> events_method(const mcp::SessionlessCall& call, const std::string& tenant);

    const Config& config_;
    const ToolRegistry& tools_;
    McpDispatcher& calls_;
    SessionlessServices services_;
};

}  // namespace rollout_mcp
