// The outline of a CRM list reply (whether it has an items array, its _metadata.next cursor) read without building
// the reply, for look-ups that can rule a page out while reading it: a marker-tag search pages through the CRM's
// people, and most pages hold no string equal to the tag (README "Sync path CPU").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp::rollout {

struct ListOutline {
    bool has_items = false;            // a bare array, or an object with an array member (client.cpp items_of)
    std::optional<std::string> next;   // _metadata.next when it is a non-empty string
};

enum class OutlineRead { outlined, holds, ambiguous, not_json };

// Reads `json_text`'s outline into `out` with an event parser (no value is built), comparing every string
// value, as it decodes (escape sequences included), with `wanted`. `holds` when one equals it: the caller parses
// the page and looks at its items. `ambiguous` when a top-level key or a key of _metadata is given twice (a
// parsed reply would keep one of them: the caller parses it instead). `not_json` when the text is not one JSON
// value under boost::json's default parse options (the limits json::parse applies).
OutlineRead read_list_outline(std::string_view json_text, std::string_view wanted, ListOutline& out);

}  // namespace rollout_mcp::rollout
