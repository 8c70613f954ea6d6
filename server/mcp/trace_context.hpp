// W3C trace context carried in a request's `_meta` (MCP 2026-07-28, SEP-414:
// https://modelcontextprotocol.io/specification/2026-07-28/changelog): `traceparent` and `tracestate` are
// accepted only in the grammar of https://www.w3.org/TR/trace-context/ (tracestate at most 512 bytes),
// anything else is dropped silently. A valid pair goes into the logs, onto the sync jobs a call makes, and
// onto those jobs' Rollout calls; nothing a client sends reaches an outbound header unchecked.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace rollout_mcp::mcp {

struct TraceContext {
    std::string traceparent;   // "" when the request had none (or an invalid one)
    std::string tracestate;    // "" unless traceparent is set and the value was valid
    bool empty() const { return traceparent.empty(); }
};

// version "-" trace-id "-" parent-id "-" flags, lowercase hex; version ff and all-zero ids are invalid.
// A version above 00 may carry more fields after the first four (kept as sent).
bool valid_traceparent(std::string_view text);
// Comma-separated list-members "key=value" (at most 32, at most 512 bytes in all; empty members allowed; no
// whitespace at either end, since the value is sent again as a header).
bool valid_tracestate(std::string_view text);

// From params._meta.traceparent / tracestate (unprefixed keys); invalid values are dropped.
TraceContext trace_context_from(const boost::json::object* params);

}  // namespace rollout_mcp::mcp
