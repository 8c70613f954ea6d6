// `x-mcp-header` tool parameters mirrored as `Mcp-Param-{Name}` request headers (MCP 2026-07-28, SEP-2243:
// https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http, "Custom headers"),
// so gateways can route on them without reading the body. The server checks that every header agrees with the
// body: a value present in the arguments needs its header, an omitted or null one must have none, and a
// header value is compared as text (integers in decimal, booleans as true/false), after decoding the
// `=?base64?...?=` form, which must be strict standard Base64. Any disagreement is HTTP 400 with -32020.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollout_mcp::mcp {

// A top-level property of a tool's input schema annotated with "x-mcp-header": "<Name>".
struct HeaderParam {
    std::string property;
    std::string header;   // the Name in Mcp-Param-Name
};

// The annotated properties of an input schema; an annotation that is not a valid header token, or one on a
// property that is not a primitive (string, integer, number, boolean), is a schema error (std::invalid_argument).
std::vector<HeaderParam> header_params_of(const boost::json::object& input_schema);

// Strict RFC 4648 section 4 Base64 (padding required, no whitespace); nullopt when malformed.
std::optional<std::string> decode_base64_strict(std::string_view text);

// The problem with the request's Mcp-Param-* headers for these arguments, or nullopt when they agree.
// `headers`: every Mcp-Param-* header as (name after the prefix, value).
std::optional<std::string> param_header_problem(const std::vector<HeaderParam>& params,
                                                const boost::json::object& arguments,
                                                const std::vector<std::pair<std::string_view, std::string_view>>& headers);

}  // namespace rollout_mcp::mcp
