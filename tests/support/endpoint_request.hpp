// The one way the in-process tests and fuzzers drive McpEndpoint without sockets: a well-formed MCP POST
// (which a test then bends), running handle() to completion on a private io_context, and reading a reply
// header. HttpRequest holds views: what they view must outlive the request.
#pragma once

#include "server/mcp/http_message.hpp"
#include "server/mcp/mcp_endpoint.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <string>
#include <string_view>

namespace rollout_mcp::test {

inline HttpRequest mcp_post(std::string_view body, std::string_view host = "localhost:8080") {
    HttpRequest r;
    r.method = "POST";
    r.target = "/mcp";
    r.host = host;
    r.accept = "application/json, text/event-stream";
    r.content_type = "application/json";
    r.body = body;
    return r;
}

inline HttpReply handle_now(boost::asio::io_context& io, McpEndpoint& endpoint, const HttpRequest& request) {
    auto future = boost::asio::co_spawn(io, endpoint.handle(request), boost::asio::use_future);
    io.restart();
    io.run();
    return future.get();
}

// The first value of a reply header spelled `name` exactly, or "".
inline std::string header_of(const HttpReply& reply, std::string_view name) {
    for (const auto& [n, value] : reply.headers)
        if (n == name) return value;
    return {};
}

}  // namespace rollout_mcp::test
