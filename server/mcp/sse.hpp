// Server-Sent Events framing and MCP event ids, free of I/O.
// An event id is "<epoch>.<stream>.<seq>": the epoch is random per process start, so ids issued before a
// restart never alias new ones; the stream number says which stream to replay; seq orders events in it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp::sse {

struct EventId {
    std::uint32_t epoch = 0;
    std::uint32_t stream = 0;
    std::uint64_t seq = 0;
    friend bool operator==(const EventId&, const EventId&) = default;
};

std::string format_event_id(const EventId& id);
// Strict: exactly three dot-separated fields, hex epoch of 8 digits, decimal stream and seq.
std::optional<EventId> parse_event_id(std::string_view text);

// "event: message\nid: <id>\ndata: <json>\n\n"; `json` must be one line (serialized JSON is).
void append_message_event(std::string& out, const EventId& id, std::string_view json);
// The priming event that lets a client resume a stream that closes before any message: id + retry.
void append_priming_event(std::string& out, const EventId& id, std::uint64_t retry_ms);
inline constexpr std::string_view keepalive_comment = ": keepalive\n\n";

}  // namespace rollout_mcp::sse
