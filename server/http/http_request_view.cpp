// Parser set-up, framing checks and the endpoint's view of a request.
#include "server/http/http_request_view.hpp"

#include "base/ascii.hpp"

namespace rollout_mcp {
namespace http = boost::beast::http;

namespace {
std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }
}  // namespace

void configure_request_parser(BeastRequestParser& parser, const ServerSettings& limits) {
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
}

bool header_over_limit(std::size_t header_bytes, const ServerSettings& limits) {
    return header_bytes > limits.max_header_bytes;
}

std::optional<std::string> framing_problem(const BeastRequestParser& parser) {
    const auto& req = parser.get();
    // Two Host headers make the target ambiguous (RFC 9112 section 3.2); two Authorization headers let a
    // proxy and this server each read a different one.
    if (req.count(http::field::host) > 1) return "more than one Host header";
    if (req.count(http::field::authorization) > 1) return "more than one Authorization header";
    if (req.find(http::field::transfer_encoding) == req.end()) return std::nullopt;
    if (!parser.chunked()) return "Transfer-Encoding must end with chunked";
    if (req.find(http::field::content_length) != req.end())
        return "Transfer-Encoding and Content-Length must not both be present";
    return std::nullopt;
}

HttpRequest view_of(const BeastRequest& req) {
    HttpRequest v;
    v.method = sv(req.method_string());
    v.target = sv(req.target());
    v.version = req.version();
    v.host = sv(req[http::field::host]);
    if (auto it = req.find(http::field::origin); it != req.end()) {
        v.has_origin = true;
        v.origin = sv(it->value());
    }
    v.accept = sv(req[http::field::accept]);
    v.content_type = sv(req[http::field::content_type]);
    v.session_id = sv(req["Mcp-Session-Id"]);
    v.protocol_version = sv(req["MCP-Protocol-Version"]);
    v.has_protocol_version = req.find("MCP-Protocol-Version") != req.end();
    if (auto it = req.find("Mcp-Method"); it != req.end()) v.mcp_method = sv(it->value());
    if (auto it = req.find("Mcp-Name"); it != req.end()) v.mcp_name = sv(it->value());
    v.mcp_method_repeated = req.count("Mcp-Method") > 1;
    v.mcp_name_repeated = req.count("Mcp-Name") > 1;
    constexpr std::string_view param_prefix = "mcp-param-";
    for (const auto& field : req) {
        const auto name = sv(field.name_string());
        if (name.size() > param_prefix.size() && ascii_iequals(name.substr(0, param_prefix.size()), param_prefix))
            v.mcp_params.emplace_back(name.substr(param_prefix.size()), sv(field.value()));
    }
    if (auto it = req.find("Last-Event-ID"); it != req.end()) {
        v.has_last_event_id = true;
        v.last_event_id = sv(it->value());
    }
    v.authorization = sv(req[http::field::authorization]);
    if (req.find(http::field::forwarded) != req.end()) v.proxy_header = "Forwarded";
    else if (req.find("X-Forwarded-For") != req.end()) v.proxy_header = "X-Forwarded-For";
    else if (req.find("X-Real-IP") != req.end()) v.proxy_header = "X-Real-IP";
    v.body = req.body();
    return v;
}

}  // namespace rollout_mcp
