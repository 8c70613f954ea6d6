// W3C trace context validation (see trace_context.hpp; grammar from https://www.w3.org/TR/trace-context/#traceparent-header
// and #tracestate-header).
#include "server/mcp/trace_context.hpp"

#include <algorithm>

namespace rollout_mcp::mcp {
namespace {

bool lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

bool lcalpha(char c) { return c >= 'a' && c <= 'z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool key_char(char c) { return lcalpha(c) || digit(c) || c == '_' || c == '-' || c == '*' || c == '/'; }

// simple-key = lcalpha 0*255(key chars); multi-tenant-key = tenant-id "@" system-id, where tenant-id is
// (lcalpha / DIGIT) 0*240(key chars) and system-id is lcalpha 0*13(key chars).
bool valid_key(std::string_view key) {
    const auto at = key.find('@');
    auto body_ok = [](std::string_view s, std::size_t max_rest) {
        return s.size() >= 1 && s.size() <= max_rest + 1 && std::all_of(s.begin() + 1, s.end(), key_char);
    };
    if (at == std::string_view::npos) return !key.empty() && lcalpha(key[0]) && body_ok(key, 255);
    const auto tenant = key.substr(0, at), system = key.substr(at + 1);
    return !tenant.empty() && (lcalpha(tenant[0]) || digit(tenant[0])) && body_ok(tenant, 240) && !system.empty() &&
           lcalpha(system[0]) && body_ok(system, 13);
}

// value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E.
bool valid_value(std::string_view value) {
    if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
    return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7e && c != ',' && c != '='; });
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

bool valid_traceparent(std::string_view t) {
    if (t.size() < 55 || t[2] != '-' || t[35] != '-' || t[52] != '-') return false;
    const auto version = t.substr(0, 2), trace_id = t.substr(3, 32), parent_id = t.substr(36, 16), flags = t.substr(53, 2);
    if (!lower_hex(version) || version == "ff" || !lower_hex(trace_id) || !lower_hex(parent_id) || !lower_hex(flags))
        return false;
    if (all_zero(trace_id) || all_zero(parent_id)) return false;
    if (version == "00") return t.size() == 55;
    // A later version may append fields: "-" and visible ASCII, no more than a header line needs.
    if (t.size() == 55) return true;
    return t[55] == '-' && t.size() <= 512 &&
           std::all_of(t.begin() + 55, t.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool valid_tracestate(std::string_view text) {
    // Outer whitespace is list syntax, but a header value may not start or end with it (rollout/outbound_request.hpp).
    if (text.size() > 512 || text != trim_ows(text)) return false;
    std::size_t members = 0;
    for (;;) {
        const auto comma = text.find(',');
        const auto member = trim_ows(text.substr(0, comma));
        if (!member.empty()) {
            const auto eq = member.find('=');
            if (eq == std::string_view::npos || !valid_key(member.substr(0, eq)) || !valid_value(member.substr(eq + 1)))
                return false;
            if (++members > 32) return false;
        }
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return members > 0;
}

TraceContext trace_context_from(const boost::json::object* params) {
    TraceContext out;
    if (!params) return out;
    const auto* meta = params->if_contains("_meta");
    if (!meta || !meta->is_object()) return out;
    const auto* parent = meta->get_object().if_contains("traceparent");
    if (!parent || !parent->is_string() || !valid_traceparent(parent->get_string())) return out;
    out.traceparent = std::string(parent->get_string());
    const auto* state = meta->get_object().if_contains("tracestate");
    if (state && state->is_string() && valid_tracestate(state->get_string()))
        out.tracestate = std::string(state->get_string());
    return out;
}

}  // namespace rollout_mcp::mcp
