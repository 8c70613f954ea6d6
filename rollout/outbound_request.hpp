// The one place an outbound HTTP request is put together: what a caller may ask for (HttpRequest) and the
// pure builder that turns it into Beast's message after checking every byte a team can influence, so no
// header value or request target can end a header line or start a second request. No sockets here: the
// fuzzer and the unit tests drive the builder directly.
#pragma once

#include "destination.hpp"
#include "errors.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollout_mcp::rollout {

struct HttpRequest {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    std::string url;                                       // absolute http(s) URL
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                                      // sent with Content-Type: application/json if non-empty
    std::string label;                                     // passed to the observers (metrics), not sent
    // The team the request is made for ("" = the operator's own calls). Pooled connections and the fair
    // share of request slots are per partition: nothing is shared between two teams.
    std::string partition;
    // Set only for URLs the operator configured (e.g. the alert webhook): skips the non-public address
    // check. Headers and target are validated all the same.
    bool trusted_destination = false;
};

using OutboundMessage = boost::beast::http::request<boost::beast::http::string_body>;

// RFC 9110 token (tchar+): what a header name must be.
bool is_http_token(std::string_view s);
// The first byte of `value` that may not appear in a header field value (C0 controls other than HTAB, and
// DEL), or npos.
std::size_t find_forbidden_header_byte(std::string_view value);

// The request for `endpoint` (Host, User-Agent, Accept, the caller's headers, Content-Type and
// Content-Length for a body, keep-alive), or a permanent Error naming the offending header or the target,
// never echoing its value. Refused: names that are not tokens, values with control bytes or leading or
// trailing whitespace, headers the transport owns (Host, Content-Length, Transfer-Encoding, Connection,
// ...), and a target with a control byte, a space or a non-ASCII byte.
Result<OutboundMessage> build_request(const HttpRequest& request, const Endpoint& endpoint);
// build_request, serialized to the exact bytes that would be written.
Result<std::string> build_request_bytes(const HttpRequest& request, const Endpoint& endpoint);

}  // namespace rollout_mcp::rollout
