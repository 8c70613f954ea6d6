// resolve_local_time: date::time_zone::get_info(local_time) says whether the wall-clock time exists once,
// never (a spring-forward gap) or twice (a fall-back overlap) in the zone.
#include "local_time.hpp"

#include <date/tz.h>

#include <stdexcept>

namespace rollout_mcp::rollout {

namespace {

const date::time_zone* find_zone(std::string_view zone) {
    if (zone.empty() || zone.size() > 64) return nullptr;
    try {
        return date::locate_zone(std::string(zone));
    } catch (const std::exception&) {
        return nullptr;   // unknown name (or no tz database on this machine)
    }
}

}  // namespace

bool is_known_time_zone(std::string_view zone) { return find_zone(zone) != nullptr; }

bool lacks_utc_offset(std::string_view text) {
    if (parse_iso8601(text)) return false;
    return parse_iso8601(std::string(text) + "Z").has_value();
}

LocalTimeResolution resolve_local_time(std::string_view local, std::string_view zone_name) {
    LocalTimeResolution out;
    const date::time_zone* zone = find_zone(zone_name);
    if (!zone) {
        out.problem = "\"" + std::string(zone_name) + "\" is not an IANA time zone (e.g. America/Chicago)";
        return out;
    }
    // The wall-clock reading as a count of seconds (parsed as if it were UTC, then taken as local).
    const auto as_utc = parse_iso8601(std::string(local) + "Z");
    if (!as_utc) {
        out.problem = "not an ISO 8601 date-time";
        return out;
    }
    const date::local_seconds wall{std::chrono::seconds{as_utc->utc_seconds}};
    const date::local_info info = zone->get_info(wall);
    date::sys_info chosen;
    switch (info.result) {
    case date::local_info::unique:
        chosen = info.first;
        break;
    case date::local_info::nonexistent:
        out.problem = std::string(local) + " does not exist in " + std::string(zone_name) +
                      " (the clocks skip it: a daylight-saving gap); give a time outside the gap or a UTC offset";
        return out;
    case date::local_info::ambiguous:
        chosen = info.first;   // the earlier instant (before the clocks fall back)
        out.note = std::string(local) + " occurs twice in " + std::string(zone_name) +
                   " (daylight-saving overlap); the earlier instant was used";
        break;
    }
    Timestamp t;
    t.utc_seconds = as_utc->utc_seconds - chosen.offset.count();
    t.offset_minutes = static_cast<int>(chosen.offset.count() / 60);
    // The rendering with the offset that applied, so every later reader parses the same instant.
    t.original = format_iso(t.utc_seconds, t.offset_minutes);
    out.time = t;
    return out;
}

}  // namespace rollout_mcp::rollout
