// The outline of a CRM list reply (whether it has an items array, its _metadata.next cursor) read without building
// the reply, for look-ups whose page can be ruled out from its text alone: a marker-tag search pages through
// the CRM's people, and most pages hold no string equal to the tag (README "Sync path CPU").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp::rollout {

struct ListOutline {
    bool has_items = false;            // a bare array, or an object with an array member (client.cpp items_of)
    std::optional<std::string> next;   // _metadata.next when it is a non-empty string
};

// False only when no JSON string in `json_text` can equal `text`: the text has no escape sequence (no
// backslash), so every string in it is spelled byte for byte between its quotes, and `"text"` does not occur.
// A page for which this is false cannot hold the text anywhere, so none of its items matches.
bool may_hold_string(std::string_view json_text, std::string_view text);

enum class OutlineRead { outlined, ambiguous, not_json };

// Reads `json_text`'s outline into `out` with an event parser (nothing is allocated per value). `ambiguous`
// when a top-level key or a key of _metadata is given twice (a parsed reply would keep one of them: the
// caller parses it instead); `not_json` when the text is not one JSON value under boost::json's default
// parse options (the limits json::parse applies).
OutlineRead read_list_outline(std::string_view json_text, ListOutline& out);

}  // namespace rollout_mcp::rollout
