// JSON-RPC 2.0 message parsing and construction (https://www.jsonrpc.org/specification).
#include "server/mcp/json_rpc.hpp"

#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace rollout_mcp::jsonrpc {
namespace json = boost::json;

TokenSizes longest_tokens(std::string_view json) {
    TokenSizes sizes;
    const std::size_t n = json.size();
    std::size_t i = 0;
    while (i < n) {
        const char c = json[i];
        if (c == '"') {
            const std::size_t start = ++i;
            while (i < n && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
            i = std::min(i, n);
            sizes.string_bytes = std::max(sizes.string_bytes, i - start);
            ++i;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            const std::size_t start = i;
            while (i < n && (json[i] == '-' || json[i] == '+' || json[i] == '.' || json[i] == 'e' || json[i] == 'E' ||
                             (json[i] >= '0' && json[i] <= '9')))
                ++i;
            sizes.number_chars = std::max(sizes.number_chars, i - start);
        } else {
            ++i;
        }
    }
    return sizes;
}

Result<json::value> parse(std::string_view body, const ParseLimits& limits) {
    json::parse_options options;
    options.max_depth = limits.max_depth;
    json::parser parser(json::storage_ptr(), options);
    boost::system::error_code ec;
    parser.write(body.data(), body.size(), ec);
    if (ec) {
        return Error{std::make_error_code(std::errc::bad_message),
                     ec == json::error::too_deep ? "JSON nested too deeply" : "invalid JSON: " + ec.message()};
    }
    // Boost.JSON 1.81 has no per-token limits; the text is valid JSON now, so one pass can measure it.
    const auto sizes = longest_tokens(body);
    if (sizes.string_bytes > limits.max_string_bytes)
        return Error{std::make_error_code(std::errc::value_too_large),
                     "a JSON string is longer than " + std::to_string(limits.max_string_bytes) + " bytes"};
    if (sizes.number_chars > limits.max_number_chars)
        return Error{std::make_error_code(std::errc::value_too_large),
                     "a JSON number is longer than " + std::to_string(limits.max_number_chars) + " characters"};
    return parser.release();
}

namespace {

bool valid_id(const json::value& id) { return id.is_string() || id.is_int64() || id.is_uint64(); }

Message invalid(std::string problem, json::value id = nullptr) {
    Message m;
    m.kind = Kind::invalid;
    m.problem = std::move(problem);
    m.id = std::move(id);
    return m;
}

}  // namespace

Message classify(const json::value& message) {
    const auto* obj = message.if_object();
    if (!obj) return invalid("a JSON-RPC message must be an object");
    json::value readable_id = nullptr;
    if (const auto* id = obj->if_contains("id"); id && valid_id(*id)) readable_id = *id;
    const auto* version = obj->if_contains("jsonrpc");
    if (!version || !version->is_string() || version->get_string() != "2.0")
        return invalid("\"jsonrpc\" must be \"2.0\"", readable_id);

    Message m;
    if (const auto* method = obj->if_contains("method")) {
        if (!method->is_string()) return invalid("\"method\" must be a string", readable_id);
        m.method = std::string(method->get_string());
        if (const auto* params = obj->if_contains("params")) {
            if (!params->is_object()) return invalid("\"params\" must be an object", readable_id);
            m.params = &params->get_object();
        }
        if (const auto* id = obj->if_contains("id")) {
            if (!valid_id(*id)) return invalid("\"id\" must be a string or an integer");
            m.kind = Kind::request;
            m.id = *id;
        } else {
            m.kind = Kind::notification;
        }
        return m;
    }
    const auto* id = obj->if_contains("id");
    const bool has_result = obj->contains("result");
    const auto* err = obj->if_contains("error");
    if (has_result != (err != nullptr)) {
        if (err && !err->is_object()) return invalid("\"error\" must be an object", readable_id);
        // A result answers a known request; an error about an unreadable one has no id (2025-11-25) or a
        // null id (JSON-RPC 2.0).
        const bool id_ok = id ? valid_id(*id) || (err && id->is_null()) : err != nullptr;
        if (id_ok) {
            m.kind = Kind::response;
            m.id = id ? *id : nullptr;
            return m;
        }
    }
    return invalid("not a request, notification or response", readable_id);
}

std::string id_key(const json::value& id) { return json::serialize(id); }

std::string result(const json::value& id, const json::value& result) {
    return result_raw(id, json::serialize(result));
}

std::string result_raw(const json::value& id, std::string_view result_json) {
    std::string out;
    const auto id_text = json::serialize(id);
    out.reserve(40 + id_text.size() + result_json.size());
    out += R"({"jsonrpc":"2.0","id":)";
    out += id_text;
    out += R"(,"result":)";
    out += result_json;
    out += '}';
    return out;
}

std::string error(const json::value& id, int code, std::string_view message, const json::value* data) {
    json::object err;
    err["code"] = code;
    err["message"] = message;
    if (data) err["data"] = *data;
    json::object msg;
    msg["jsonrpc"] = "2.0";
    if (!id.is_null()) msg["id"] = id;
    msg["error"] = std::move(err);
    return json::serialize(msg);
}

std::string notification(std::string_view method, const json::value& params) {
    json::object msg;
    msg["jsonrpc"] = "2.0";
    msg["method"] = method;
    msg["params"] = params;
    return json::serialize(msg);
}

}  // namespace rollout_mcp::jsonrpc
