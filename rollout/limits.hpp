// The one table of bounds on the sync tools' input fields. It feeds both the JSON Schemas the tools
// advertise (input_schema in server/tools/sync_tools.cpp builds them from it) and the parsers in model.cpp,
// so a client that follows the schema is never refused by the parser, and nothing the parser refuses is
// advertised.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rollout_mcp::rollout::limits {

// string: text (lengths in Unicode characters); id: text, or an integer the parser turns into text;
// array: item counts; integer / number: values; object: a container with no bounds of its own.
enum class Kind { string, id, array, integer, number, object };

struct FieldLimit {
    std::string_view path;         // "tourData.properties[].address": "[]" is any item of the array
    Kind kind = Kind::string;
    std::int64_t min = 0;          // characters, items or value, per kind
    std::int64_t max = 0;
    bool required = false;         // within its parent object
    std::string_view description = {};
};

// clang-format off
inline constexpr FieldLimit kFields[] = {
    // Arguments shared by sync_tour_data and sync_feedback_data.
    {"crmType", Kind::string, 1, 64, false, "a connector key (highlevel, lofty, follow-up-boss, ...) or \"all\" connected CRMs"},
    {"idempotencyKey", Kind::string, 1, 200, false, "repeat a call with the same key to get the first call's jobs instead of new ones"},

    // sync_tour_data. New tour fields go here and into parse_tour / to_json (model.cpp); fields of one
    // visit (a per-visit buyerId or timeZone, say) go under "tourData.properties[]."
    {"tourData", Kind::object, 0, 0, true, "the tour; fields not listed here are ignored (ignoredFields)"},
    {"tourData.tourId", Kind::id, 1, 128, true},
    {"tourData.agentId", Kind::id, 1, 128, true},
    {"tourData.agentEmail", Kind::string, 1, 254},
    {"tourData.buyerId", Kind::id, 1, 128},
    {"tourData.buyer", Kind::object, 0, 0},
    {"tourData.buyer.name", Kind::string, 1, 200},
    {"tourData.buyer.email", Kind::string, 1, 254},
    {"tourData.buyer.phone", Kind::string, 1, 40},
    {"tourData.timeZone", Kind::string, 1, 64, false, "IANA time zone of the tour's visits, e.g. America/Chicago"},
    {"tourData.properties", Kind::array, 1, 100, true},
    {"tourData.properties[]", Kind::object, 0, 0},
    {"tourData.properties[].propertyId", Kind::id, 1, 128, true},
    {"tourData.properties[].address", Kind::string, 1, 512, true},
    {"tourData.properties[].visitTime", Kind::string, 1, 64, true, "ISO 8601, e.g. 2026-12-01T10:00:00-06:00; without a UTC offset a local time in the visit's timeZone, else tourData.timeZone, else the team's (configure_rollout timeZone)"},
    {"tourData.properties[].durationMinutes", Kind::integer, 1, 1440},
    {"tourData.properties[].notes", Kind::string, 1, 4000},
    {"tourData.properties[].buyerId", Kind::id, 1, 128, false, "if given, must equal the tour's buyer (a tour has one buyer)"},
    {"tourData.properties[].timeZone", Kind::string, 1, 64, false, "IANA time zone of this visit, if not the tour's"},

    // sync_feedback_data. New feedback fields go here and into parse_feedback / to_json.
    {"feedbackData", Kind::object, 0, 0, true, "the feedback; fields not listed here are ignored (ignoredFields)"},
    {"feedbackData.propertyId", Kind::id, 1, 128, true},
    {"feedbackData.tourId", Kind::id, 1, 128, true},
    {"feedbackData.buyerId", Kind::id, 1, 128},
    {"feedbackData.feedback", Kind::string, 1, 20000, true},
    {"feedbackData.rating", Kind::number, 0, 5},
    {"feedbackData.interestLevel", Kind::string, 1, 64},
    {"feedbackData.address", Kind::string, 1, 512, false, "the property's address, when known"},
    {"feedbackData.timestamp", Kind::string, 1, 64, false, "ISO 8601; without a UTC offset a local time in feedbackData.timeZone, else the team's"},
    {"feedbackData.timeZone", Kind::string, 1, 64, false, "IANA time zone of a local timestamp"},
};
// clang-format on

// The entry for `path`, at compile time: a path missing from the table does not compile.
consteval const FieldLimit& field(std::string_view path) {
    for (const FieldLimit& f : kFields)
        if (f.path == path) return f;
    throw "rollout::limits::field: no such path in kFields";
}

std::span<const FieldLimit> fields();
// The entry for `path`, or nullptr.
const FieldLimit* find(std::string_view path);
// Whether `key` is a field of the object at table path `object_path` ("tourData.properties[]").
bool is_field_of(std::string_view object_path, std::string_view key);

// Unicode characters in UTF-8 text (what JSON Schema's maxLength counts).
std::size_t text_length(std::string_view utf8);
// nullopt when `value` fits `limit` (a string or id field), else "must ..." (no field name).
std::optional<std::string> check_text(const FieldLimit& limit, std::string_view value);

// The JSON Schema of one entry: its type and bounds, its description; objects and arrays with their
// fields (children in table order, `required` from the table); unknown fields are allowed in objects.
boost::json::object schema(std::string_view path);

}  // namespace rollout_mcp::rollout::limits
