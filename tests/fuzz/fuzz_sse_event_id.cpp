// Fuzz target: an SSE event id, as a client sends it back in Last-Event-ID.
// Properties: parse_event_id never crashes; whatever it accepts is canonical enough that formatting it and
// parsing again gives the same id; for any id (the input's first 16 bytes as epoch/stream/seq),
// parse(format(id)) == id and the formatted text is what the strict grammar allows; the SSE event
// framing of that id is one "id:" line.
#include "fuzz_common.hpp"
#include "server/mcp/sse.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using namespace rollout_mcp;

using fuzz::fail;

bool grammar_ok(std::string_view text) {
    // 8 lowercase hex digits '.' decimal '.' decimal
    if (text.size() < 12 || text[8] != '.') return false;
    for (char c : text.substr(0, 8))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    const auto rest = text.substr(9);
    const auto dot = rest.find('.');
    if (dot == 0 || dot == std::string_view::npos || dot + 1 == rest.size()) return false;
    for (std::size_t i = 0; i < rest.size(); ++i)
        if (i != dot && !(rest[i] >= '0' && rest[i] <= '9')) return false;
    return true;
}

void round_trip(const sse::EventId& id) {
    const std::string text = sse::format_event_id(id);
    if (!grammar_ok(text)) fail("format_event_id broke the grammar", text);
    const auto back = sse::parse_event_id(text);
    if (!back || !(*back == id)) fail("parse(format(id)) != id", text);
    std::string event;
    sse::append_message_event(event, id, "{}");
    if (event != "event: message\nid: " + text + "\ndata: {}\n\n") fail("message event framing", event);
    std::string priming;
    sse::append_priming_event(priming, id, 1000);
    if (priming.rfind("id: " + text + "\nretry: 1000\n", 0) != 0) fail("priming event framing", priming);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (const auto id = sse::parse_event_id(text)) {
        if (!grammar_ok(text)) fail("parse_event_id accepted text outside the grammar", text);
        round_trip(*id);
    }
    if (size >= 16) {
        sse::EventId id;
        std::memcpy(&id.epoch, data, 4);
        std::memcpy(&id.stream, data + 4, 4);
        std::memcpy(&id.seq, data + 8, 8);
        round_trip(id);
    }
    return 0;
}
