// The HTTP request fields the MCP endpoint reads and the reply it produces, without Beast types, so
// the endpoint's rules can be unit-tested and fuzzed without sockets.
#pragma once

#include "server/mcp/event_stream.hpp"
#include "server/mcp/json_rpc.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollout_mcp {

struct HttpRequest {
    std::string_view method;
    std::string_view target;
    unsigned version = 11;
    std::string_view host;
    std::string_view origin;
    bool has_origin = false;
    std::string_view accept;
    std::string_view content_type;
    std::string_view session_id;
    std::string_view protocol_version;
    bool has_protocol_version = false;
    // MCP 2026-07-28 standard headers (basic/transports/streamable-http, "Standard headers"): values as sent;
    // a header sent twice counts as a mismatch (*_repeated).
    std::optional<std::string_view> mcp_method;
    std::optional<std::string_view> mcp_name;
    bool mcp_method_repeated = false;
    bool mcp_name_repeated = false;
    // Every Mcp-Param-* header: the name after the prefix (as sent) and the value.
    std::vector<std::pair<std::string_view, std::string_view>> mcp_params;
    std::string_view last_event_id;
    bool has_last_event_id = false;
    std::string_view authorization;
    std::string_view proxy_header;   // the first of Forwarded, X-Forwarded-For, X-Real-IP present; empty if none
    std::string_view body;
};

struct SseReply {
    std::shared_ptr<mcp::EventStream> stream;   // already attached for this reply
    std::uint64_t generation = 0;               // the attachment's identity (EventStream::attach)
    std::uint32_t epoch = 0;
    std::uint64_t after_seq = 0;                // events after this one are written
    bool prime = false;                         // send the priming event (id = after_seq) first
    std::uint64_t retry_ms = 1000;
};

struct HttpReply {
    unsigned status = 200;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<SseReply> sse;
    bool close_connection = false;
};

// A reply whose body is one JSON-RPC message (or batch).
inline HttpReply json_reply(std::string body) {
    HttpReply reply;
    reply.content_type = "application/json";
    reply.body = std::move(body);
    return reply;
}

// A transport-level failure: status plus a JSON-RPC error body without an id.
inline HttpReply transport_error(unsigned status, int code, std::string_view message) {
    HttpReply reply = json_reply(jsonrpc::error(nullptr, code, message));
    reply.status = status;
    return reply;
}

}  // namespace rollout_mcp
