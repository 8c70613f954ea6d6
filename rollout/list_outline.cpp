// A list reply's outline from boost::json's event parser (https://www.boost.org/doc/libs/1_81_0/libs/json/doc/html/json/ref/boost__json__basic_parser.html):
// the same grammar and limits as json::parse, without building the items a caller would throw away.
#include "list_outline.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <cstring>
#include <unordered_set>

namespace rollout_mcp::rollout {
namespace json = boost::json;

namespace {

// Containers are counted by `depth` (the top-level value's members are at depth 1, _metadata's at 2). Only
// the keys of the top-level object and of _metadata, and the string value of _metadata.next, are kept.
struct OutlineHandler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    OutlineHandler(ListOutline& o, std::string_view w) : out(o), wanted(w) {}

    ListOutline& out;
    std::string_view wanted;
    bool holds = false;          // a string value equal to `wanted` was read
    std::size_t matched = 0;     // bytes of the string being read that equal wanted's first bytes
    bool may_match = true;       // ... and all of them did
    int depth = 0;
    bool top_is_object = false;
    bool in_metadata = false;   // the top-level _metadata object is open
    bool ambiguous = false;
    std::string key;            // the key being read
    std::string top_key;        // the last key of the top-level object
    std::string metadata_key;   // the last key of _metadata
    std::string next;           // _metadata.next being read
    // Sets, not lists: a hostile reply may carry a million keys within the reply cap.
    std::unordered_set<std::string> top_keys, metadata_keys;

    bool reading_next() const { return in_metadata && depth == 2 && metadata_key == "next"; }
    void remember(std::unordered_set<std::string>& keys, std::string& last) {
        if (!keys.insert(key).second) ambiguous = true;
        last = key;
    }

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }
    bool on_array_begin(json::error_code&) {
        if (depth == 0 || (depth == 1 && top_is_object)) out.has_items = true;
        ++depth;
        return true;
    }
    bool on_array_end(std::size_t, json::error_code&) {
        --depth;
        return true;
    }
    bool on_object_begin(json::error_code&) {
        if (depth == 0) top_is_object = true;
        else if (depth == 1 && top_is_object && top_key == "_metadata") in_metadata = true;
        ++depth;
        return true;
    }
    bool on_object_end(std::size_t, json::error_code&) {
        --depth;
        if (depth == 1) in_metadata = false;
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
        key.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, json::error_code&) {
        key.append(s.data(), s.size());
        if (depth == 1 && top_is_object) remember(top_keys, top_key);
        else if (in_metadata && depth == 2) remember(metadata_keys, metadata_key);
        key.clear();
        return true;
    }
    // The string's pieces arrive decoded: compared as they come, nothing is kept but the cursor.
    void compare(json::string_view s) {
        if (!may_match) return;
        if (s.size() <= wanted.size() - matched && std::memcmp(wanted.data() + matched, s.data(), s.size()) == 0)
            matched += s.size();
        else may_match = false;
    }
    bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
        compare(s);
        if (reading_next()) next.append(s.data(), s.size());
        return true;
    }
    bool on_string(json::string_view s, std::size_t, json::error_code&) {
        compare(s);
        if (may_match && matched == wanted.size()) holds = true;
        matched = 0;
        may_match = true;
        if (!reading_next()) return true;
        next.append(s.data(), s.size());
        if (!next.empty()) out.next = std::move(next);
        next.clear();
        return true;
    }
    bool on_number_part(json::string_view, json::error_code&) { return true; }
    bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
    bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
    bool on_double(double, json::string_view, json::error_code&) { return true; }
    bool on_bool(bool, json::error_code&) { return true; }
    bool on_null(json::error_code&) { return true; }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

OutlineRead read_list_outline(std::string_view json_text, std::string_view wanted, ListOutline& out) {
    out = ListOutline{};
    json::basic_parser<OutlineHandler> parser(json::parse_options{}, out, wanted);
    json::error_code ec;
    const std::size_t used = parser.write_some(false, json_text.data(), json_text.size(), ec);
    if (ec || !parser.done()) return OutlineRead::not_json;
    // json::parse refuses anything but whitespace after the value.
    if (json_text.find_first_not_of(" \t\r\n", used) != std::string_view::npos) return OutlineRead::not_json;
    if (parser.handler().holds) return OutlineRead::holds;
    if (parser.handler().ambiguous) return OutlineRead::ambiguous;
    return OutlineRead::outlined;
}

}  // namespace rollout_mcp::rollout
