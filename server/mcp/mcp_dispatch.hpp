// JSON-RPC methods of a live session: ping, logging/setLevel, tools/list, tools/call (with progress,
// logging and cancellation), notifications and 2025-03-26 batches. McpEndpoint hands a parsed message here
// once the transport rules and the session are settled; a tool call's reply is finished by one path
// (finish_call) whether it goes out as a JSON body or as the last event of an SSE stream.
#pragma once

#include "server/app/config.hpp"
#include "server/mcp/http_message.hpp"
#include "server/mcp/json_rpc.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/team_rate_limit.hpp"
#include "server/mcp/tool_registry.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace rollout_mcp {

class McpDispatcher {
public:
    McpDispatcher(const Config& config, const ToolRegistry& tools, TeamRateLimiter& pacing, std::uint32_t epoch)
        : config_(config), tools_(tools), pacing_(pacing), epoch_(epoch) {}

    // A request; allow_sse: the reply may be an SSE stream (not inside a batch).
    boost::asio::awaitable<HttpReply> request(std::shared_ptr<mcp::Session> session, const jsonrpc::Message& message,
                                              bool allow_sse);
    boost::asio::awaitable<HttpReply> batch(std::shared_ptr<mcp::Session> session, const boost::json::array& batch);
    void notification(mcp::Session& session, const jsonrpc::Message& message);
    // tools/call: the session's own or, for a sessionless request, a session made for this one request.
    // `info` travels to the handler (ToolContext::call(), copied); a sessionless request without a log level gets
    // no log notifications. `info` is a reference to the caller's named object: GCC 12 destroys a by-value
    // temporary made inside a co_await expression twice.
    boost::asio::awaitable<HttpReply> call_tool(std::shared_ptr<mcp::Session> session, const jsonrpc::Message& message,
                                                bool allow_sse, const CallInfo& info, bool logs);
    // Tool handlers still running (SSE replies run detached from their connection).
    std::size_t running_tools() const { return running_tools_.load(); }
    std::uint32_t epoch() const { return epoch_; }

private:
    std::string simple(mcp::Session& session, const jsonrpc::Message& message);

    const Config& config_;
    const ToolRegistry& tools_;
    TeamRateLimiter& pacing_;
    const std::uint32_t epoch_;
    std::atomic<std::size_t> running_tools_{0};
};

}  // namespace rollout_mcp
