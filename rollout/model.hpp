// Canonical domain types the MCP tools hand to the adapters (Tour, PropertyVisit, Buyer, Feedback), their
// parsers from Boost.JSON, which name the offending field ("tourData.properties[1].visitTime: ...") and
// enforce the bounds of limits.hpp, and their normalized JSON (to_json), which is what the outbox stores.
#pragma once

#include "errors.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::rollout {

// An instant given as ISO 8601 with a UTC offset: kept as UTC epoch seconds plus the original offset so
// each CRM gets the rendering it wants.
struct Timestamp {
    std::int64_t utc_seconds = 0;
    int offset_minutes = 0;
    std::string original;

    std::string utc_iso() const;    // 2026-03-01T20:00:00Z
    std::string local_iso() const;  // 2026-03-01T14:00:00-06:00 (the original offset; Z when it was UTC)
    Timestamp plus_minutes(int minutes) const;
    bool operator==(const Timestamp&) const = default;
};
// nullopt unless `text` is YYYY-MM-DDTHH:MM[:SS[.fff]] followed by Z or +-HH:MM (+-HHMM, +-HH).
std::optional<Timestamp> parse_iso8601(std::string_view text);
std::string format_iso(std::int64_t utc_seconds, int offset_minutes);

struct Buyer {
    std::optional<std::string> name;
    std::optional<std::string> email;
    std::optional<std::string> phone;
    bool operator==(const Buyer&) const = default;
};

struct PropertyVisit {
    std::string property_id;
    std::string address;
    Timestamp visit_time;
    std::optional<int> duration_minutes;
    std::optional<std::string> notes;
    std::optional<std::string> time_zone;  // IANA name, when the visit's differs from the tour's
    bool operator==(const PropertyVisit&) const = default;
};

struct Tour {
    std::string tour_id;
    std::string agent_id;
    std::optional<std::string> agent_email;
    std::optional<std::string> buyer_id;
    std::optional<Buyer> buyer;
    std::optional<std::string> time_zone;  // IANA name, passed through to the CRM where it has a field
    std::vector<PropertyVisit> properties;
    bool operator==(const Tour&) const = default;
};

struct Feedback {
    std::string property_id;
    std::string tour_id;
    std::optional<std::string> buyer_id;
    std::string feedback;
    std::optional<double> rating;             // 0..5
    std::optional<std::string> interest_level;
    std::optional<Timestamp> timestamp;
    std::optional<std::string> address;       // property address, when the caller knows it
    std::optional<std::string> time_zone;     // IANA name of a local timestamp
    bool operator==(const Feedback&) const = default;
};

// Local ids used in markers and ledgers. A buyer without an id is identified by its tour.
std::string buyer_local_id(const std::optional<std::string>& buyer_id, std::string_view tour_id);
std::string visit_local_id(std::string_view tour_id, std::string_view property_id);
std::string feedback_local_id(const Feedback& f);

// ErrorKind::validation with a field-named message on bad input. Fields the model does not know are
// dropped; when `ignored` is given, their paths ("tourData.properties[1].color") are appended to it.
// A date-time without a UTC offset is a local time in the field's zone (the visit's timeZone, else the
// tour's, else `default_time_zone`): converted with the IANA rules, refused inside a DST gap, and in an
// overlap the earlier instant, with a note in `warnings` naming the field. Without any zone it is refused.
struct ParseOptions {
    std::string_view default_time_zone;          // the team's (configure_rollout timeZone), may be empty
    std::vector<std::string>* warnings = nullptr;
};
Result<Tour> parse_tour(const boost::json::value& v, std::string_view path = "tourData",
                        std::vector<std::string>* ignored = nullptr, const ParseOptions& options = {});
Result<Feedback> parse_feedback(const boost::json::value& v, std::string_view path = "feedbackData",
                                std::vector<std::string>* ignored = nullptr, const ParseOptions& options = {});

// The normalized JSON of a parsed value: only known fields, ids as strings, times as given. Parsing it
// gives back an equal value.
boost::json::object to_json(const Tour& tour);
boost::json::object to_json(const Feedback& feedback);

}  // namespace rollout_mcp::rollout
