// Local wall-clock times ("2026-12-05T10:00:00", no UTC offset) resolved in an IANA time zone with the system's
// tz database (Howard Hinnant's date library over Debian's tzdata). A touring app's scheduled arrivals are
// often local times; the instant they name depends on the zone's rules on that date.
#pragma once

#include "model.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp::rollout {

struct LocalTimeResolution {
    std::optional<Timestamp> time;     // the instant, with the zone's UTC offset at that instant
    std::string problem;               // why there is none: an unknown zone, a time inside a DST gap
    std::optional<std::string> note;   // the time fell in a DST overlap: the earlier instant was used
};

// Whether `zone` names a zone of the tz database (e.g. "America/Chicago").
bool is_known_time_zone(std::string_view zone);

// `local` is YYYY-MM-DDTHH:MM[:SS[.fff]] without an offset (callers check that); `zone` an IANA name.
// Messages say what went wrong without the field name (the caller adds it).
LocalTimeResolution resolve_local_time(std::string_view local, std::string_view zone);

// Whether `text` is a date-time without a UTC offset that parse_iso8601 would accept with one.
bool lacks_utc_offset(std::string_view text);

}  // namespace rollout_mcp::rollout
