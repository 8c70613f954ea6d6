// The MCP Streamable HTTP endpoint: Host/Origin and auth checks, session routing, JSON-RPC dispatch,
// and the choice between a JSON and an SSE reply
// (https://modelcontextprotocol.io/specification/2025-11-25/basic/transports).
#pragma once

#include "server/mcp/auth.hpp"
#include "server/app/config.hpp"
#include "server/mcp/http_message.hpp"
#include "server/mcp/json_rpc.hpp"
#include "server/mcp/mcp_dispatch.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/sessionless_dispatch.hpp"
#include "server/mcp/team_rate_limit.hpp"
#include "server/mcp/tool_registry.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>

namespace rollout_mcp {

// The limits a request body is parsed with ([mcp] max_json_*).
inline jsonrpc::ParseLimits parse_limits(const McpSettings& mcp) {
    return {mcp.max_json_depth, mcp.max_json_string_bytes, mcp.max_json_number_chars};
}

class McpEndpoint {
public:
    McpEndpoint(const Config& config, const ToolRegistry& tools, mcp::SessionStore& sessions, Authenticator& auth,
                SessionlessServices sessionless = {});

    boost::asio::awaitable<HttpReply> handle(const HttpRequest& request);

    bool host_allowed(std::string_view host) const;
    bool origin_allowed(std::string_view origin) const;
    std::uint32_t epoch() const { return epoch_; }
    // Tool handlers still running (SSE replies run detached from their connection).
    std::size_t running_tools() const { return dispatch_.running_tools(); }
    // Refuses new requests and ends every subscriptions/listen stream.
    void begin_shutdown();

private:
    boost::asio::awaitable<HttpReply> handle_post(const HttpRequest& request, const std::string& tenant);
    boost::asio::awaitable<HttpReply> handle_get(const HttpRequest& request, const std::string& tenant);
    HttpReply resume_or_listen(const HttpRequest& request, mcp::Session& session);
    boost::asio::awaitable<HttpReply> handle_delete(const HttpRequest& request, const std::string& tenant);
    boost::asio::awaitable<HttpReply> handle_initialize(const jsonrpc::Message& message, const std::string& tenant);
    // Session lookup shared by POST, GET and DELETE: sets `error` (400/404/503) when it fails.
    boost::asio::awaitable<std::shared_ptr<mcp::Session>> session_for(const HttpRequest& request,
                                                                      const std::string& tenant,
                                                                      std::optional<HttpReply>& error);
    static HttpReply session_miss(mcp::SessionLookup::Miss miss);

    const Config& config_;
    mcp::SessionStore& sessions_;
    Authenticator& auth_;
    const std::uint32_t epoch_;
    std::atomic<bool> shutting_down_{false};
    TeamRateLimiter rate_limiter_;
    McpDispatcher dispatch_;   // after rate_limiter_ and epoch_, which it is given
    mcp::ListenHub* listen_ = nullptr;
    mcp::TaskRouter* tasks_ = nullptr;
    SessionlessDispatcher sessionless_;   // after dispatch_
};

bool accepts_media_type(std::string_view accept, std::string_view type);

}  // namespace rollout_mcp
