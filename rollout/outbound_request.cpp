// Request building and validation for every outbound call (see outbound_request.hpp). Beast copies header
// values byte for byte, so a CR LF in a team's token or credential id would otherwise end the line.
#include "outbound_request.hpp"
#include "base/ascii.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <sstream>

namespace rollout_mcp::rollout {
namespace http = boost::beast::http;

namespace {

bool is_tchar(unsigned char c) {
    if (std::isalnum(c)) return true;
    static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return c < 0x80 && extra.find(static_cast<char>(c)) != std::string_view::npos;
}

// Framing and hop-by-hop fields: set by the transport only, or one request could be framed as two.
constexpr std::array<std::string_view, 9> kTransportOwned = {
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
    "proxy-connection"};

Error refuse_header(std::string_view name, std::string_view why) {
    return Error{ErrorKind::permanent, 0, "header " + std::string(name) + ": " + std::string(why) + "; nothing was sent"};
}

}  // namespace

bool is_http_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return is_tchar(c); });
}

std::size_t find_forbidden_header_byte(std::string_view value) {
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if ((c < 0x20 && c != '\t') || c == 0x7F) return i;
    }
    return std::string_view::npos;
}

Result<OutboundMessage> build_request(const HttpRequest& request, const Endpoint& endpoint) {
    const std::string_view target = endpoint.target;
    if (target.empty() || target.front() != '/' ||
        std::any_of(target.begin(), target.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7F; }))
        return Error{ErrorKind::permanent, 0,
                     "the request target contains a control character, a space or a non-ASCII byte; nothing was sent"};
    for (const auto& [name, value] : request.headers) {
        if (!is_http_token(name)) {
            // The name itself is not shown: it is not a token, so it may hold anything.
            return Error{ErrorKind::permanent, 0, "a header name is not an HTTP token; nothing was sent"};
        }
        if (std::any_of(kTransportOwned.begin(), kTransportOwned.end(),
                        [&n = name](std::string_view owned) { return ascii_iequals(n, owned); }))
            return refuse_header(name, "is set by the transport, not by the caller");
        if (find_forbidden_header_byte(value) != std::string_view::npos)
            return refuse_header(name, "contains a control character");
        if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
                               value.back() == '\t'))
            return refuse_header(name, "has leading or trailing whitespace");
    }
    if (request.method == http::verb::unknown)
        return Error{ErrorKind::permanent, 0, "the request method is unknown; nothing was sent"};

    OutboundMessage req{request.method, std::string(target), 11};
    std::string host = endpoint.host.find(':') != std::string::npos ? "[" + endpoint.host + "]" : endpoint.host;
    if (endpoint.port != (endpoint.tls ? "443" : "80")) host += ":" + endpoint.port;
    if (find_forbidden_header_byte(host) != std::string_view::npos || host.find(' ') != std::string::npos)
        return refuse_header("Host", "contains a control character or a space");
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "rollout-mcp/0.1");
    req.set(http::field::accept, "application/json");
    for (const auto& [name, value] : request.headers) req.set(name, value);
    if (!request.body.empty()) {
        if (req.find(http::field::content_type) == req.end()) req.set(http::field::content_type, "application/json");
        req.body() = request.body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    return req;
}

Result<std::string> build_request_bytes(const HttpRequest& request, const Endpoint& endpoint) {
    auto req = build_request(request, endpoint);
    if (!req) return std::move(req).error();
    std::ostringstream out;
    out << req.value();
    return out.str();
}

}  // namespace rollout_mcp::rollout
