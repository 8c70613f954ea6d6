// What the connection does with a parsed Beast request before routing, shared with the fuzz target so
// both run the same code: parser limits, RFC 9112 framing checks, and the view the MCP endpoint reads.
#pragma once

#include "server/app/config.hpp"
#include "server/mcp/http_message.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <string>

namespace rollout_mcp {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastRequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

void configure_request_parser(BeastRequestParser& parser, const ServerSettings& limits);

// Whether a header of `header_bytes` (request line, fields and the empty line, as the parser consumed them)
// exceeds max_header_bytes: Beast 1.81 applies its header limit to the request line and to the fields
// separately, so a header can reach almost twice the limit before Beast objects (fuzz finding "header-limit").
bool header_over_limit(std::size_t header_bytes, const ServerSettings& limits);

// After the header: why the message is ambiguous and must be refused with 400 + close (RFC 9112
// sections 6.1 and 6.3: Transfer-Encoding whose final coding is not chunked, or Transfer-Encoding together
// with Content-Length; section 3.2: more than one Host; also more than one Authorization), or nullopt when
// it is sound. Beast refuses the framing ones only when chunked comes last, and never the others.
std::optional<std::string> framing_problem(const BeastRequestParser& parser);

// The fields the MCP endpoint reads; views into `request`, valid while it lives.
HttpRequest view_of(const BeastRequest& request);

}  // namespace rollout_mcp
