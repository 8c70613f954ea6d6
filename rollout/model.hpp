// Canonical domain types the MCP tools hand to the adapters (Tour, PropertyVisit, Buyer, Feedback), and
// their parsers from Boost.JSON, which name the offending field ("tourData.properties[1].visitTime: ...").
#pragma once

#include "result.hpp"

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
};
// nullopt unless `text` is YYYY-MM-DDTHH:MM[:SS[.fff]] followed by Z or +-HH:MM (+-HHMM, +-HH).
std::optional<Timestamp> parse_iso8601(std::string_view text);
std::string format_iso(std::int64_t utc_seconds, int offset_minutes);

struct Buyer {
    std::optional<std::string> name;
    std::optional<std::string> email;
    std::optional<std::string> phone;
};

struct PropertyVisit {
    std::string property_id;
    std::string address;
    Timestamp visit_time;
    std::optional<int> duration_minutes;
    std::optional<std::string> notes;
};

struct Tour {
    std::string tour_id;
    std::string agent_id;
    std::optional<std::string> agent_email;
    std::optional<std::string> buyer_id;
    std::optional<Buyer> buyer;
    std::optional<std::string> time_zone;  // IANA name, passed through to the CRM where it has a field
    std::vector<PropertyVisit> properties;
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
};

// Local ids used in markers and ledgers. A buyer without an id is identified by its tour.
std::string buyer_local_id(const std::optional<std::string>& buyer_id, std::string_view tour_id);
std::string visit_local_id(std::string_view tour_id, std::string_view property_id);
std::string feedback_local_id(const Feedback& f);

// ErrorKind::validation with a field-named message on bad input.
Result<Tour> parse_tour(const boost::json::value& v, std::string_view path = "tourData");
Result<Feedback> parse_feedback(const boost::json::value& v, std::string_view path = "feedbackData");

}  // namespace rollout_mcp::rollout
