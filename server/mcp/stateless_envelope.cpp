// Sessionless request envelope checks (see stateless_envelope.hpp).
#include "server/mcp/stateless_envelope.hpp"

#include <boost/json/array.hpp>

namespace rollout_mcp::mcp {
namespace json = boost::json;

namespace {

const json::object* meta_of(const jsonrpc::Message& message) {
    if (!message.params) return nullptr;
    const auto* meta = message.params->if_contains("_meta");
    return meta && meta->is_object() ? &meta->get_object() : nullptr;
}

}  // namespace

bool is_sessionless(const HttpRequest& request, const jsonrpc::Message& message) {
    if (!request.session_id.empty()) return false;
    const auto* meta = meta_of(message);
    const bool meta_version = meta && meta->contains(kMetaProtocolVersion);
    // A 2025 initialize names the version it wants in its params: whatever its header says, it negotiates.
    if (message.method == "initialize" && !meta_version) return false;
    if (request.has_protocol_version) {
        const auto revision = parse_revision(request.protocol_version);
        if (!revision || !policy(*revision).sessions) return true;
    }
    return meta_version;
}

HttpReply sessionless_error(const json::value& id, int code, std::string_view message, const json::value* data,
                            unsigned status) {
    HttpReply reply = json_reply(jsonrpc::error(id, code, message, data));
    reply.status = status;
    return reply;
}

std::optional<std::string_view> expected_mcp_name(const jsonrpc::Message& message) {
    const char* field = nullptr;
    if (message.method == "tools/call" || message.method == "prompts/get") field = "name";
    else if (message.method == "resources/read") field = "uri";
    else if (message.method == "tasks/get" || message.method == "tasks/update" || message.method == "tasks/cancel")
        field = "taskId";
    if (!field || !message.params) return std::nullopt;
    const auto* v = message.params->if_contains(field);
    if (!v || !v->is_string()) return std::nullopt;
    return std::string_view(v->get_string());
}

bool declares(const json::object& capabilities, std::initializer_list<std::string_view> path) {
    const json::object* at = &capabilities;
    for (auto it = path.begin(); it != path.end(); ++it) {
        const auto* next = at->if_contains(*it);
        if (!next || next->is_null()) return false;
        if (std::next(it) == path.end()) return true;
        if (!next->is_object()) return false;
        at = &next->get_object();
    }
    return true;
}

std::variant<SessionlessCall, HttpReply> check_envelope(const HttpRequest& request, const jsonrpc::Message& message) {
    const auto& id = message.id;
    if (!request.has_protocol_version)
        return sessionless_error(id, code::header_mismatch,
                                 "Header mismatch: the MCP-Protocol-Version header is required");
    const auto* meta = meta_of(message);
    const json::value* version = meta ? meta->if_contains(kMetaProtocolVersion) : nullptr;
    const json::value* capabilities = meta ? meta->if_contains(kMetaClientCapabilities) : nullptr;
    if (!version || !capabilities) {
        std::string missing;
        if (!version) missing = std::string(kMetaProtocolVersion);
        if (!capabilities) missing += (missing.empty() ? "" : ", ") + std::string(kMetaClientCapabilities);
        return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: missing _meta keys: " + missing);
    }
    if (!version->is_string() || version->get_string() != request.protocol_version)
        return sessionless_error(id, code::header_mismatch,
                                 "Header mismatch: MCP-Protocol-Version does not match _meta " +
                                     std::string(kMetaProtocolVersion));
    const auto revision = parse_revision(request.protocol_version);
    if (!revision || policy(*revision).sessions) {
        json::array supported;
        for (auto v : kStatelessRevisions) supported.emplace_back(v);
        // The requested text is echoed only when it is short printable ASCII (it may be anything).
        std::string requested(request.protocol_version.substr(0, 64));
        for (char& c : requested)
            if (c < 0x20 || c > 0x7e) c = '?';
        const json::value data = json::object{{"supported", std::move(supported)}, {"requested", requested}};
        return sessionless_error(id, code::unsupported_protocol_version,
                                 "Unsupported protocol version: this endpoint serves 2026-07-28 without a session, and "
                                 "2025-11-25, 2025-06-18 and 2025-03-26 after initialize",
                                 &data);
    }
    if (!capabilities->is_object())
        return sessionless_error(id, jsonrpc::code::invalid_params,
                                 "Invalid params: _meta " + std::string(kMetaClientCapabilities) + " must be an object");
    if (request.mcp_method_repeated || !request.mcp_method || *request.mcp_method != message.method)
        return sessionless_error(id, code::header_mismatch,
                                 request.mcp_method ? "Header mismatch: Mcp-Method does not match the body's method"
                                                    : "Header mismatch: the Mcp-Method header is required");
    const auto name = expected_mcp_name(message);
    if (request.mcp_name_repeated || (name && (!request.mcp_name || *request.mcp_name != *name)) ||
        (!name && request.mcp_name))
        return sessionless_error(id, code::header_mismatch,
                                 name && !request.mcp_name
                                     ? "Header mismatch: the Mcp-Name header is required for " + message.method
                                     : "Header mismatch: Mcp-Name does not match the body");

    SessionlessCall call;
    call.message = message;
    call.revision = *revision;
    call.client_capabilities = capabilities->get_object();
    if (const auto* level = meta->if_contains(kMetaLogLevel)) {
        call.log_level = level->is_string() ? parse_log_level(level->get_string()) : std::nullopt;
        if (!call.log_level)
            return sessionless_error(id, jsonrpc::code::invalid_params,
                                     "Invalid params: _meta " + std::string(kMetaLogLevel) +
                                         " must be one of debug, info, notice, warning, error, critical, alert, emergency");
    }
    call.trace = trace_context_from(message.params);
    return call;
}

}  // namespace rollout_mcp::mcp
