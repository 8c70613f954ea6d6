#include "model.hpp"

#include "local_time.hpp"

#include "limits.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace rollout_mcp::rollout {
namespace json = boost::json;

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

}  // namespace

std::optional<Timestamp> parse_iso8601(std::string_view s) {
    int y, mo, d, h, mi, sec = 0;
    if (!digits(s, 0, 4, y) || s.size() < 16 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
        !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
        !digits(s, 14, 2, mi))
        return std::nullopt;
    std::size_t pos = 16;
    if (pos < s.size() && s[pos] == ':') {
        if (!digits(s, pos + 1, 2, sec)) return std::nullopt;
        pos += 3;
        if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
            ++pos;
            const std::size_t start = pos;
            while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
            if (pos == start) return std::nullopt;
        }
    }
    if (pos >= s.size()) return std::nullopt;  // no offset: ambiguous local time
    int offset = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        const int sign = s[pos] == '-' ? -1 : 1;
        int oh, om = 0;
        if (!digits(s, pos + 1, 2, oh)) return std::nullopt;
        pos += 3;
        if (pos < s.size() && s[pos] == ':') {
            if (!digits(s, pos + 1, 2, om)) return std::nullopt;
            pos += 3;
        } else if (pos < s.size()) {
            if (!digits(s, pos, 2, om)) return std::nullopt;
            pos += 2;
        }
        if (oh > 18 || om > 59) return std::nullopt;
        offset = sign * (oh * 60 + om);
    } else {
        return std::nullopt;
    }
    if (pos != s.size() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    using namespace std::chrono;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    if (y < 1000 || y > 9999) return std::nullopt;
    Timestamp t;
    const std::int64_t local = sys_days{ymd}.time_since_epoch().count() * 86400LL + h * 3600 + mi * 60 + std::min(sec, 59);
    t.utc_seconds = local - offset * 60LL;
    // The instant itself must lie in years 1000-9999 in UTC too, so the UTC text we send the CRMs is a
    // four-digit year that parses back (1000-01-01T00:00+01:00 would be 0999-12-31T23:00Z).
    static const std::int64_t first = sys_days{year{1000} / January / 1}.time_since_epoch().count() * 86400LL;
    static const std::int64_t last = sys_days{year{9999} / December / 31}.time_since_epoch().count() * 86400LL + 86399;
    if (t.utc_seconds < first || t.utc_seconds > last) return std::nullopt;
    t.offset_minutes = offset;
    t.original = std::string(s);
    return t;
}

std::string format_iso(std::int64_t utc_seconds, int offset_minutes) {
    using namespace std::chrono;
    const std::int64_t local = utc_seconds + offset_minutes * 60LL;
    std::int64_t days = local / 86400, rem = local % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    const year_month_day ymd{sys_days{std::chrono::days{days}}};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(rem / 3600),
                  static_cast<int>(rem % 3600 / 60), static_cast<int>(rem % 60));
    std::string out(buf);
    if (offset_minutes == 0) return out + "Z";
    const int a = std::abs(offset_minutes);
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
    return out + buf;
}

std::string Timestamp::utc_iso() const { return format_iso(utc_seconds, 0); }
std::string Timestamp::local_iso() const { return format_iso(utc_seconds, offset_minutes); }
Timestamp Timestamp::plus_minutes(int minutes) const {
    Timestamp t = *this;
    t.utc_seconds += minutes * 60LL;
    t.original = local_iso();
    return t;
}

std::string buyer_local_id(const std::optional<std::string>& buyer_id, std::string_view tour_id) {
    return buyer_id ? *buyer_id : "tour-" + std::string(tour_id);
}
std::string visit_local_id(std::string_view tour_id, std::string_view property_id) {
    return std::string(tour_id) + "/" + std::string(property_id);
}
std::string feedback_local_id(const Feedback& f) {
    return f.tour_id + "/" + f.property_id + "/" + buyer_local_id(f.buyer_id, f.tour_id);
}

namespace {

using limits::field;
using limits::FieldLimit;

// Field readers: each returns an Error naming `path.key`; bounds come from the limits table.
struct Reader {
    const json::object& obj;
    std::string path;        // for messages: "tourData.properties[1]"
    std::string_view table;  // the limits table's path of this object: "tourData.properties[]"
    std::vector<std::string>* ignored;

    Error bad(std::string_view key, std::string_view rule) const {
        return Error{ErrorKind::validation, 0, path + "." + std::string(key) + ": " + std::string(rule)};
    }
    // Records the fields of this object the table does not know: they are dropped.
    void note_unknown() const {
        if (!ignored) return;
        for (const auto& item : obj)
            if (!limits::is_field_of(table, item.key())) ignored->push_back(path + "." + std::string(item.key()));
    }
    // Required: a non-empty string (integers accepted for ids and converted).
    Result<std::string> str(std::string_view key, const FieldLimit& limit) const {
        auto o = opt_str(key, limit);
        if (!o) return std::move(o).error();
        if (!o.value()) return bad(key, "required");
        return std::move(*o.value());
    }
    Result<std::optional<std::string>> opt_str(std::string_view key, const FieldLimit& limit) const {
        const bool allow_number = limit.kind == limits::Kind::id;
        const json::value* v = obj.if_contains(key);
        if (!v || v->is_null()) return std::optional<std::string>{};
        std::string s;
        if (v->is_string()) s = std::string(v->as_string());
        else if (allow_number && v->is_int64()) s = std::to_string(v->get_int64());
        else if (allow_number && v->is_uint64()) s = std::to_string(v->get_uint64());
        else return bad(key, allow_number ? "must be a string or an integer" : "must be a string");
        if (auto problem = limits::check_text(limit, s)) return bad(key, *problem);
        return std::optional<std::string>{std::move(s)};
    }
    // `zone`: the IANA zone a time without a UTC offset is read in ("" = none known); `zone_hint` says
    // where a caller may give one.
    Result<std::optional<Timestamp>> opt_time(std::string_view key, const FieldLimit& limit, std::string_view zone = {},
                                              std::string_view zone_hint = {},
                                              std::vector<std::string>* warnings = nullptr) const {
        auto s = opt_str(key, limit);
        if (!s) return std::move(s).error();
        if (!s.value()) return std::optional<Timestamp>{};
        const std::string& text = *s.value();
        if (auto t = parse_iso8601(text)) return std::optional<Timestamp>{*t};
        if (!lacks_utc_offset(text))
            return bad(key, "not an ISO 8601 date-time (e.g. 2026-03-01T14:00:00-06:00, or a local 2026-03-01T14:00:00 "
                            "with a time zone), got \"" + text + "\"");
        if (zone.empty())
            return bad(key, "\"" + text + "\" has no UTC offset and no time zone is known: add the offset, or give " +
                                std::string(zone_hint));
        auto local = resolve_local_time(text, zone);
        if (!local.time) return bad(key, local.problem);
        if (local.note && warnings) warnings->push_back(path + "." + std::string(key) + ": " + *local.note);
        return std::optional<Timestamp>{*local.time};
    }
    // An optional IANA zone name, checked against the tz database.
    Result<std::optional<std::string>> opt_zone(std::string_view key, const FieldLimit& limit) const {
        auto z = opt_str(key, limit);
        if (!z || !z.value()) return z;
        if (!is_known_time_zone(*z.value()))
            return bad(key, "\"" + *z.value() + "\" is not an IANA time zone (e.g. America/Chicago)");
        return z;
    }
};

Result<const json::object*> as_object(const json::value& v, const std::string& path) {
    if (!v.is_object()) return Error{ErrorKind::validation, 0, path + ": must be an object"};
    return &v.as_object();
}

#define ROLLOUT_TRY(var, expr)                       \
    auto var##_r = (expr);                           \
    if (!var##_r) return std::move(var##_r).error(); \
    auto var = std::move(var##_r).value()

std::string range_rule(const FieldLimit& f, std::string_view what) {
    return "must be " + std::string(what) + " from " + std::to_string(f.min) + " to " + std::to_string(f.max);
}

// The visit's buyerId (checked against the tour's by the caller) comes back through `buyer`.
Result<PropertyVisit> parse_visit(const json::value& v, const std::string& path, std::vector<std::string>* ignored,
                                  std::string_view tour_zone, const ParseOptions& options,
                                  std::optional<std::string>& buyer) {
    ROLLOUT_TRY(o, as_object(v, path));
    Reader r{*o, path, "tourData.properties[]", ignored};
    PropertyVisit p;
    ROLLOUT_TRY(pid, r.str("propertyId", field("tourData.properties[].propertyId")));
    ROLLOUT_TRY(addr, r.str("address", field("tourData.properties[].address")));
    ROLLOUT_TRY(bid, r.opt_str("buyerId", field("tourData.properties[].buyerId")));
    ROLLOUT_TRY(vtz, r.opt_zone("timeZone", field("tourData.properties[].timeZone")));
    buyer = std::move(bid);
    p.time_zone = vtz;
    const std::string_view zone = vtz ? std::string_view(*vtz) : !tour_zone.empty() ? tour_zone : options.default_time_zone;
    ROLLOUT_TRY(when, r.opt_time("visitTime", field("tourData.properties[].visitTime"), zone,
                                 path + ".timeZone, tourData.timeZone, or a team default (configure_rollout timeZone)",
                                 options.warnings));
    if (!when) return r.bad("visitTime", "required");
    p.property_id = std::move(pid);
    p.address = std::move(addr);
    p.visit_time = *when;
    if (const json::value* d = o->if_contains("durationMinutes"); d && !d->is_null()) {
        constexpr const FieldLimit& duration = field("tourData.properties[].durationMinutes");
        if (!d->is_int64() || d->get_int64() < duration.min || d->get_int64() > duration.max)
            return r.bad("durationMinutes", range_rule(duration, "an integer"));
        p.duration_minutes = static_cast<int>(d->get_int64());
    }
    ROLLOUT_TRY(notes, r.opt_str("notes", field("tourData.properties[].notes")));
    p.notes = std::move(notes);
    r.note_unknown();
    return p;
}

}  // namespace

Result<Tour> parse_tour(const json::value& v, std::string_view path_sv, std::vector<std::string>* ignored,
                        const ParseOptions& options) {
    const std::string path(path_sv);
    ROLLOUT_TRY(o, as_object(v, path));
    Reader r{*o, path, "tourData", ignored};
    Tour t;
    ROLLOUT_TRY(tid, r.str("tourId", field("tourData.tourId")));
    ROLLOUT_TRY(aid, r.str("agentId", field("tourData.agentId")));
    ROLLOUT_TRY(aemail, r.opt_str("agentEmail", field("tourData.agentEmail")));
    if (aemail && aemail->find('@') == std::string::npos) return r.bad("agentEmail", "must be an email address");
    ROLLOUT_TRY(bid, r.opt_str("buyerId", field("tourData.buyerId")));
    ROLLOUT_TRY(tz, r.opt_zone("timeZone", field("tourData.timeZone")));
    t.tour_id = std::move(tid);
    t.agent_id = std::move(aid);
    t.agent_email = std::move(aemail);
    t.buyer_id = std::move(bid);
    t.time_zone = std::move(tz);
    r.note_unknown();
    if (const json::value* b = o->if_contains("buyer"); b && !b->is_null()) {
        ROLLOUT_TRY(bo, as_object(*b, path + ".buyer"));
        Reader br{*bo, path + ".buyer", "tourData.buyer", ignored};
        Buyer buyer;
        ROLLOUT_TRY(name, br.opt_str("name", field("tourData.buyer.name")));
        ROLLOUT_TRY(email, br.opt_str("email", field("tourData.buyer.email")));
        ROLLOUT_TRY(phone, br.opt_str("phone", field("tourData.buyer.phone")));
        if (email && email->find('@') == std::string::npos) return br.bad("email", "must be an email address");
        buyer.name = std::move(name);
        buyer.email = std::move(email);
        buyer.phone = std::move(phone);
        br.note_unknown();
        t.buyer = std::move(buyer);
    }
    constexpr const FieldLimit& visits = field("tourData.properties");
    const json::value* props = o->if_contains("properties");
    if (!props || props->is_null()) return r.bad("properties", "required");
    if (!props->is_array()) return r.bad("properties", "must be an array");
    const auto& arr = props->as_array();
    if (arr.size() < static_cast<std::size_t>(visits.min))
        return r.bad("properties", "must contain at least one property visit");
    if (arr.size() > static_cast<std::size_t>(visits.max))
        return r.bad("properties", "must contain at most " + std::to_string(visits.max) + " property visits");
    for (std::size_t i = 0; i < arr.size(); ++i) {
        const std::string vpath = path + ".properties[" + std::to_string(i) + "]";
        std::optional<std::string> visit_buyer;
        ROLLOUT_TRY(visit, parse_visit(arr[i], vpath, ignored, t.time_zone ? std::string_view(*t.time_zone) : "",
                                       options, visit_buyer));
        // A tour has one buyer: a per-visit buyerId must be the tour's (or, without one, the first visit's).
        if (visit_buyer) {
            if (!t.buyer_id) t.buyer_id = visit_buyer;
            else if (*t.buyer_id != *visit_buyer)
                return Error{ErrorKind::validation, 0,
                             vpath + ".buyerId: \"" + *visit_buyer + "\" differs from the tour's buyer \"" +
                                 *t.buyer_id + "\" (a tour has one buyer)"};
        }
        for (const auto& prev : t.properties)
            if (prev.property_id == visit.property_id)
                return Error{ErrorKind::validation, 0,
                             path + ".properties[" + std::to_string(i) + "].propertyId: duplicate \"" +
                                 visit.property_id + "\" in this tour"};
        t.properties.push_back(std::move(visit));
    }
    return t;
}

Result<Feedback> parse_feedback(const json::value& v, std::string_view path_sv, std::vector<std::string>* ignored,
                                const ParseOptions& options) {
    const std::string path(path_sv);
    ROLLOUT_TRY(o, as_object(v, path));
    Reader r{*o, path, "feedbackData", ignored};
    Feedback f;
    ROLLOUT_TRY(pid, r.str("propertyId", field("feedbackData.propertyId")));
    ROLLOUT_TRY(tid, r.str("tourId", field("feedbackData.tourId")));
    ROLLOUT_TRY(bid, r.opt_str("buyerId", field("feedbackData.buyerId")));
    ROLLOUT_TRY(text, r.str("feedback", field("feedbackData.feedback")));
    ROLLOUT_TRY(level, r.opt_str("interestLevel", field("feedbackData.interestLevel")));
    ROLLOUT_TRY(ftz, r.opt_zone("timeZone", field("feedbackData.timeZone")));
    const std::string_view zone = ftz ? std::string_view(*ftz) : options.default_time_zone;
    ROLLOUT_TRY(when, r.opt_time("timestamp", field("feedbackData.timestamp"), zone,
                                 path + ".timeZone or a team default (configure_rollout timeZone)", options.warnings));
    f.time_zone = std::move(ftz);
    ROLLOUT_TRY(addr, r.opt_str("address", field("feedbackData.address")));
    f.property_id = std::move(pid);
    f.tour_id = std::move(tid);
    f.buyer_id = std::move(bid);
    f.feedback = std::move(text);
    f.interest_level = std::move(level);
    f.timestamp = std::move(when);
    f.address = std::move(addr);
    if (const json::value* rt = o->if_contains("rating"); rt && !rt->is_null()) {
        constexpr const FieldLimit& rating = field("feedbackData.rating");
        if (!rt->is_number()) return r.bad("rating", range_rule(rating, "a number"));
        const double d = rt->to_number<double>();
        if (!(d >= static_cast<double>(rating.min) && d <= static_cast<double>(rating.max)))
            return r.bad("rating", range_rule(rating, "a number"));
        f.rating = d;
    }
    r.note_unknown();
    return f;
}

namespace {

void put(json::object& o, std::string_view key, const std::optional<std::string>& v) {
    if (v) o[key] = *v;
}

}  // namespace

json::object to_json(const Tour& t) {
    json::object o{{"tourId", t.tour_id}, {"agentId", t.agent_id}};
    put(o, "agentEmail", t.agent_email);
    put(o, "buyerId", t.buyer_id);
    if (t.buyer) {
        json::object b;
        put(b, "name", t.buyer->name);
        put(b, "email", t.buyer->email);
        put(b, "phone", t.buyer->phone);
        o["buyer"] = std::move(b);
    }
    put(o, "timeZone", t.time_zone);
    json::array visits;
    for (const auto& p : t.properties) {
        json::object v{{"propertyId", p.property_id}, {"address", p.address}, {"visitTime", p.visit_time.original}};
        if (p.duration_minutes) v["durationMinutes"] = *p.duration_minutes;
        put(v, "notes", p.notes);
        put(v, "timeZone", p.time_zone);
        visits.push_back(std::move(v));
    }
    o["properties"] = std::move(visits);
    return o;
}

json::object to_json(const Feedback& f) {
    json::object o{{"propertyId", f.property_id}, {"tourId", f.tour_id}};
    put(o, "buyerId", f.buyer_id);
    o["feedback"] = f.feedback;
    if (f.rating) o["rating"] = *f.rating;
    put(o, "interestLevel", f.interest_level);
    if (f.timestamp) o["timestamp"] = f.timestamp->original;
    put(o, "address", f.address);
    put(o, "timeZone", f.time_zone);
    return o;
}

}  // namespace rollout_mcp::rollout
