// JSON-RPC 2.0 framing for MCP, free of I/O: parsing with limits, classifying messages, building replies.
#pragma once

#include "base/result.hpp"

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp::jsonrpc {

namespace code {
constexpr int parse_error = -32700;
constexpr int invalid_request = -32600;
constexpr int method_not_found = -32601;
constexpr int invalid_params = -32602;
constexpr int internal_error = -32603;
constexpr int server_busy = -32000;
constexpr int request_cancelled = -32800;
}  // namespace code

enum class Kind { request, notification, response, invalid };

// A classified message. `id` is null when the message has none (or it was unreadable).
struct Message {
    Kind kind = Kind::invalid;
    boost::json::value id;
    std::string method;
    const boost::json::object* params = nullptr;   // points into the parsed document
    std::string problem;                           // why it is invalid
};

struct ParseLimits {
    std::size_t max_depth = 64;
    std::size_t max_string_bytes = 1024 * 1024;   // a string or key as written (escapes count as written)
    std::size_t max_number_chars = 64;            // a number as written
};

// The longest string (bytes between its quotes, as written) and the longest number (characters) in a text
// that is valid JSON; on other text the figures are approximate, never out of bounds.
struct TokenSizes {
    std::size_t string_bytes = 0;
    std::size_t number_chars = 0;
};
TokenSizes longest_tokens(std::string_view json);

// Parses a body; an error saying why when it is not valid JSON or exceeds the limits.
Result<boost::json::value> parse(std::string_view body, const ParseLimits& limits);

Message classify(const boost::json::value& message);

// The canonical text of a request id, so 1 and "1" stay distinct map keys.
std::string id_key(const boost::json::value& id);

std::string result(const boost::json::value& id, const boost::json::value& result);
// A result already serialized as JSON text (cached tool lists).
std::string result_raw(const boost::json::value& id, std::string_view result_json);
// `id` null means "omit the id" (unreadable id or transport-level error).
std::string error(const boost::json::value& id, int code, std::string_view message,
                  const boost::json::value* data = nullptr);
std::string notification(std::string_view method, const boost::json::value& params);

}  // namespace rollout_mcp::jsonrpc
