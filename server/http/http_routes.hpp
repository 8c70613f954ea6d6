// Routing one read request: /healthz, /readyz and /metrics answered here, [server] mcp_path handed to the
// MCP endpoint, and `<public_url path>/hooks/rollout/<route>` to the webhook receiver. Internal to
// http_connection.cpp.
#pragma once

#include "server/http/http_connection.hpp"
#include "server/http/http_request_view.hpp"
#include "server/mcp/http_message.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>

namespace rollout_mcp {

boost::asio::awaitable<HttpReply> route(ServerShared& shared, const BeastRequest& request);

// After the header of a request to the hooks path: its body cap (kMaxHookBodyBytes) is set on the parser,
// and a declared Content-Length over it is answered 413 at once, before any of the body is read.
std::optional<HttpReply> limit_hook_body(const ServerShared& shared, BeastRequestParser& parser);

}  // namespace rollout_mcp
