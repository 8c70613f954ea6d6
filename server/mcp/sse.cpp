// SSE event formatting and event-id parsing.
#include "server/mcp/sse.hpp"

#include <charconv>
#include <cstdio>

namespace rollout_mcp::sse {

std::string format_event_id(const EventId& id) {
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%08x.%u.%llu", id.epoch, id.stream,
                          static_cast<unsigned long long>(id.seq));
    return std::string(buf, static_cast<std::size_t>(n));
}

namespace {

template <typename T>
bool parse_number(std::string_view text, T& out, int base) {
    if (text.empty() || text.size() > 20) return false;
    for (char c : text)
        if (!(c >= '0' && c <= '9') && !(base == 16 && ((c >= 'a' && c <= 'f')))) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
    return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

std::optional<EventId> parse_event_id(std::string_view text) {
    auto first = text.find('.');
    if (first == std::string_view::npos) return std::nullopt;
    auto second = text.find('.', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    auto epoch = text.substr(0, first);
    auto stream = text.substr(first + 1, second - first - 1);
    auto seq = text.substr(second + 1);
    EventId id;
    if (epoch.size() != 8 || !parse_number(epoch, id.epoch, 16)) return std::nullopt;
    if (!parse_number(stream, id.stream, 10) || !parse_number(seq, id.seq, 10)) return std::nullopt;
    return id;
}

void append_message_event(std::string& out, const EventId& id, std::string_view json) {
    out += "event: message\nid: ";
    out += format_event_id(id);
    out += "\ndata: ";
    out += json;
    out += "\n\n";
}

void append_priming_event(std::string& out, const EventId& id, std::uint64_t retry_ms) {
    out += "id: ";
    out += format_event_id(id);
    out += "\nretry: ";
    out += std::to_string(retry_ms);
    out += "\ndata: \n\n";
}

}  // namespace rollout_mcp::sse
