// Mcp-Param-* header checks (see param_headers.hpp).
#include "server/mcp/param_headers.hpp"

#include "base/ascii.hpp"

#include <boost/json/serialize.hpp>

#include <stdexcept>

namespace rollout_mcp::mcp {
namespace json = boost::json;

namespace {

bool header_token(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    return true;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// The body value as header text; nullopt for values that have no header form (objects, arrays).
std::optional<std::string> as_header_text(const json::value& v) {
    if (v.is_string()) return std::string(v.get_string());
    if (v.is_bool()) return v.get_bool() ? "true" : "false";
    if (v.is_int64()) return std::to_string(v.get_int64());
    if (v.is_uint64()) return std::to_string(v.get_uint64());
    if (v.is_double()) return json::serialize(v);
    return std::nullopt;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::vector<HeaderParam> header_params_of(const json::object& input_schema) {
    std::vector<HeaderParam> out;
    const auto* props = input_schema.if_contains("properties");
    if (!props || !props->is_object()) return out;
    for (const auto& [name, def] : props->get_object()) {
        if (!def.is_object()) continue;
        const auto* header = def.get_object().if_contains("x-mcp-header");
        if (!header) continue;
        if (!header->is_string() || !header_token(header->get_string()))
            throw std::invalid_argument("property \"" + std::string(name) + "\": x-mcp-header must be a header token");
        const auto* type = def.get_object().if_contains("type");
        const std::string_view t = type && type->is_string() ? std::string_view(type->get_string()) : "";
        if (t != "string" && t != "integer" && t != "number" && t != "boolean")
            throw std::invalid_argument("property \"" + std::string(name) + "\": x-mcp-header needs a primitive type");
        for (const auto& p : out)
            if (ascii_iequals(p.header, header->get_string()))
                throw std::invalid_argument("x-mcp-header \"" + std::string(header->get_string()) + "\" is used twice");
        out.push_back({std::string(name), std::string(header->get_string())});
    }
    return out;
}

std::optional<std::string> decode_base64_strict(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = text[i + k];
            if (c == '=' && last && k >= 2) {
                v[k] = 0;
                ++pad;
                continue;
            }
            if (pad) return std::nullopt;   // a character after padding
            v[k] = base64_value(c);
            if (v[k] < 0) return std::nullopt;
        }
        const unsigned n = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
        // Bits that padding leaves over must be zero (canonical encoding).
        if ((pad == 1 && (n & 0xff)) || (pad == 2 && (n & 0xffff))) return std::nullopt;
        out += static_cast<char>(n >> 16);
        if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
        if (pad < 1) out += static_cast<char>(n & 0xff);
    }
    return out;
}

std::optional<std::string> param_header_problem(const std::vector<HeaderParam>& params, const json::object& arguments,
                                                const std::vector<std::pair<std::string_view, std::string_view>>& headers) {
    for (const auto& param : params) {
        std::optional<std::string_view> sent;
        for (const auto& [name, value] : headers) {
            if (!ascii_iequals(name, param.header)) continue;
            if (sent) return "Mcp-Param-" + param.header + " is sent more than once";
            sent = value;
        }
        const auto* value = arguments.if_contains(param.property);
        if (!value || value->is_null()) {
            if (sent) return "Mcp-Param-" + param.header + " is sent but arguments." + param.property + " is absent";
            continue;
        }
        if (!sent) return "Mcp-Param-" + param.header + " is required: arguments." + param.property + " is set";
        const auto expected = as_header_text(*value);
        if (!expected) return "arguments." + param.property + " must be a primitive value (it has an Mcp-Param header)";
        std::string_view text = trim(*sent);
        std::string decoded;
        constexpr std::string_view open = "=?base64?", close = "?=";
        if (text.size() >= open.size() + close.size() && text.substr(0, open.size()) == open &&
            text.substr(text.size() - close.size()) == close) {
            auto d = decode_base64_strict(text.substr(open.size(), text.size() - open.size() - close.size()));
            if (!d) return "Mcp-Param-" + param.header + " is not valid Base64 inside =?base64?...?=";
            decoded = std::move(*d);
            text = decoded;
        }
        if (text != *expected) return "Mcp-Param-" + param.header + " does not match arguments." + param.property;
    }
    return std::nullopt;
}

}  // namespace rollout_mcp::mcp
