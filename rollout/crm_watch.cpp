// The watched fields of CRM records and the classification of their changes (crm_watch.hpp). Record shapes are
// Rollout's v3 CRM schemas (docs: https://rollout.com/docs/api-reference/crm/overview; research notes in
// rollout-api.md section 1.2): people carry emails/phones as [{value, type, isPrimary}], appointments
// startsAt/endsAt ("Date/ISO string/epoch"), status, outcome and appointmentOutcomeId, tasks dueDateTime and
// isCompleted. Every read checks the JSON type first: a CRM's reply is not ours to trust.
#include "crm_watch.hpp"

#include "client.hpp"
#include "model.hpp"
#include "base/ascii.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>

namespace rollout_mcp::rollout {
namespace json = boost::json;

namespace {

// Caps that keep a hostile record from growing the ledger row or the change it feeds.
constexpr std::size_t kWatchedTextBytes = 4096;
constexpr std::size_t kWatchedListValues = 50;

// The watched keys of each kind, in the order watched_state writes them.
constexpr std::array<std::string_view, 4> kPersonKeys = {"firstName", "lastName", "emails", "phones"};
constexpr std::array<std::string_view, 5> kAppointmentKeys = {"startsAt", "endsAt", "status", "outcome",
                                                              "appointmentOutcomeId"};
constexpr std::array<std::string_view, 3> kTaskKeys = {"name", "dueDateTime", "isCompleted"};
constexpr std::array<std::string_view, 3> kTimeKeys = {"startsAt", "endsAt", "dueDateTime"};

// At most `max_bytes`, backing off to the start of a UTF-8 sequence the cut would split (continuation bytes are
// 10xxxxxx), as upstream_text does for remote error text.
std::string cut_utf8(std::string_view text, std::size_t max_bytes) {
    std::size_t n = std::min(text.size(), max_bytes);
    if (n < text.size())
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    return std::string(text.substr(0, n));
}

std::string digits_of(std::string_view text) {
    std::string digits;
    for (char c : text)
        if (c >= '0' && c <= '9') digits += c;
    return digits;
}

const json::value* string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? v : nullptr;
}

std::optional<std::int64_t> iso_ms(std::string_view text) {
    const auto t = parse_iso8601(text);
    if (!t) return std::nullopt;
    // parse_iso8601 keeps whole seconds; the first three digits of a fraction after "YYYY-MM-DDTHH:MM:SS" are ms.
    std::int64_t ms = 0;
    if (text.size() > 20 && text[16] == ':' && (text[19] == '.' || text[19] == ',')) {
        bool in_fraction = true;   // the offset after a short fraction is not part of it
        for (std::size_t i = 20; i < 23; ++i) {
            in_fraction = in_fraction && i < text.size() && text[i] >= '0' && text[i] <= '9';
            ms = ms * 10 + (in_fraction ? text[i] - '0' : 0);
        }
    }
    return t->utc_seconds * 1000 + ms;
}

// A time as the CRMs send it: ISO 8601 with a UTC offset, or epoch milliseconds.
std::optional<std::int64_t> instant_ms(const json::value& v) {
    if (v.is_string()) return iso_ms(v.get_string());
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(v.get_uint64());
    if (v.is_double() && std::isfinite(v.get_double()) && std::abs(v.get_double()) < 9.0e18)
        return static_cast<std::int64_t>(v.get_double());
    return std::nullopt;
}

void put_text(json::object& out, const json::object& record, std::string_view key) {
    if (const auto* s = string_at(record, key)) out[key] = cut_utf8(s->get_string(), kWatchedTextBytes);
}

// Kept as spelled (text, or epoch milliseconds): the change reports the CRM's own value; comparisons go by instant.
void put_time(json::object& out, const json::object& record, std::string_view key) {
    const auto* v = record.if_contains(key);
    if (!v) return;
    if (v->is_string()) out[key] = cut_utf8(v->get_string(), kWatchedTextBytes);
    else if (v->is_int64() || v->is_uint64()) out[key] = *v;
}

// The normalized values of a list of {value} items (or plain strings), sorted, without duplicates or empties.
template <class Normalize>
void put_values(json::object& out, const json::object& record, std::string_view key, Normalize normalize) {
    const auto* list = record.if_contains(key);
    if (!list || !list->is_array()) return;
    std::vector<std::string> values;
    for (const auto& item : list->get_array()) {
        const json::value* text = item.is_object() ? item.get_object().if_contains("value") : &item;
        if (!text || !text->is_string()) continue;
        std::string value = normalize(cut_utf8(text->get_string(), kWatchedTextBytes));
        if (!value.empty()) values.push_back(std::move(value));
    }
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    if (values.size() > kWatchedListValues) values.resize(kWatchedListValues);
    if (values.empty()) return;
    json::array kept;
    for (auto& v : values) kept.emplace_back(std::move(v));
    out[key] = std::move(kept);
}

// `outcome` is a name, or an object {id, name} in the CRM API's newer list shape.
void put_outcome(json::object& out, const json::object& record) {
    const auto* v = record.if_contains("outcome");
    if (v && v->is_object()) v = v->get_object().if_contains("name");
    if (v && v->is_string()) out["outcome"] = cut_utf8(v->get_string(), kWatchedTextBytes);
}

void put_id(json::object& out, const json::object& record, std::string_view key) {
    if (const auto* v = record.if_contains(key))
        if (std::string id = id_of(*v); !id.empty()) out[key] = cut_utf8(id, kWatchedTextBytes);
}

// The watched fields as an object; nullopt for an unknown kind.
std::optional<json::object> watched_fields(std::string_view kind, const json::object& record) {
    json::object out;
    if (kind == "person") {
        put_text(out, record, "firstName");
        put_text(out, record, "lastName");
        put_values(out, record, "emails", [](std::string_view v) { return ascii_lower(v); });
        put_values(out, record, "phones", digits_of);
    } else if (kind == "appointment") {
        put_time(out, record, "startsAt");
        put_time(out, record, "endsAt");
        put_text(out, record, "status");
        put_outcome(out, record);
        put_id(out, record, "appointmentOutcomeId");
    } else if (kind == "task") {
        put_text(out, record, "name");
        put_time(out, record, "dueDateTime");
        if (const auto* done = record.if_contains("isCompleted"); done && done->is_bool()) out["isCompleted"] = *done;
    } else if (kind == "note") {
        put_text(out, record, "subject");
        put_text(out, record, "body");
    } else {
        return std::nullopt;
    }
    return out;
}

// A known state as an object; nullopt when unknown ("") or not a JSON object.
std::optional<json::object> parse_state(std::string_view state) {
    if (state.empty()) return std::nullopt;
    boost::system::error_code ec;
    json::value v = json::parse(state, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
}

bool same_time(const json::value* a, const json::value* b) {
    if (!a || !b) return a == b;
    const auto ms_a = instant_ms(*a), ms_b = instant_ms(*b);
    if (ms_a && ms_b) return *ms_a == *ms_b;
    return *a == *b;
}

bool same_field(std::string_view key, const json::object& before, const json::object& after) {
    const auto *a = before.if_contains(key), *b = after.if_contains(key);
    if (std::find(kTimeKeys.begin(), kTimeKeys.end(), key) != kTimeKeys.end()) return same_time(a, b);
    if (!a || !b) return a == b;
    return *a == *b;
}

template <std::size_t N>
bool same_fields(const std::array<std::string_view, N>& keys, const json::object& before, const json::object& after) {
    return std::all_of(keys.begin(), keys.end(), [&](std::string_view k) { return same_field(k, before, after); });
}

json::value value_or_null(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v ? *v : json::value(nullptr);
}

// The text of a string field, lower-cased; "" otherwise.
std::string lower_text(const json::object& o, std::string_view key) {
    const auto* v = string_at(o, key);
    return v ? ascii_lower(v->get_string()) : std::string();
}

bool names_cancellation(const std::string& lowered) { return lowered.find("cancel") != std::string::npos; }

bool names_completion(const std::string& lowered) {
    const auto start = lowered.find_first_not_of(" \t");
    if (start == std::string::npos) return false;
    const std::string word = lowered.substr(start, lowered.find_last_not_of(" \t") + 1 - start);
    return word == "completed" || word == "showed" || word == "attended" || word == "done";
}

// What one state (known or current) of a showing says.
struct ShowingView {
    const json::value* start = nullptr;
    const json::value* end = nullptr;
    bool cancelled = false;
    bool completed = false;
};

ShowingView showing_view(std::string_view kind, const json::object& state) {
    ShowingView view;
    if (kind == "task") {
        view.start = state.if_contains("dueDateTime");
        const auto* done = state.if_contains("isCompleted");
        view.completed = done && done->is_bool() && done->get_bool();
        return view;
    }
    view.start = state.if_contains("startsAt");
    view.end = state.if_contains("endsAt");
    const std::string status = lower_text(state, "status"), outcome = lower_text(state, "outcome");
    view.cancelled = names_cancellation(status) || names_cancellation(outcome);
    view.completed = names_completion(status) || names_completion(outcome);
    return view;
}

json::value time_or_null(const json::value* v) { return v ? *v : json::value(nullptr); }

std::vector<ObservedChange> showing_changes(std::string_view kind, const std::optional<json::object>& known,
                                            const json::object* record) {
    std::vector<ObservedChange> changes;
    std::optional<ShowingView> before;
    if (known) before = showing_view(kind, *known);
    if (!record) {   // gone from the CRM: cancelled, unless we already knew it was
        if (!before || !before->cancelled) changes.push_back({"showing_cancelled", json::object{{"deleted", true}}});
        return changes;
    }
    const json::object now = *watched_fields(kind, *record);
    if (known && (kind == "task" ? same_fields(kTaskKeys, *known, now) : same_fields(kAppointmentKeys, *known, now)))
        return changes;   // our own write echoed back, or nothing we watch
    const ShowingView after = showing_view(kind, now);
    if (after.cancelled) {   // reported alone: a cancelled showing's new time or outcome means nothing
        if (!before || !before->cancelled)
            changes.push_back({"showing_cancelled", json::object{{"deleted", false},
                                                                 {"status", value_or_null(now, "status")},
                                                                 {"outcome", value_or_null(now, "outcome")}}});
        return changes;
    }
    if (before && after.start && (!same_time(before->start, after.start) || !same_time(before->end, after.end)))
        changes.push_back({"showing_rescheduled", json::object{{"startsAt", time_or_null(after.start)},
                                                               {"endsAt", time_or_null(after.end)},
                                                               {"previousStartsAt", time_or_null(before->start)},
                                                               {"previousEndsAt", time_or_null(before->end)}}});
    if (after.completed && (!before || !before->completed)) {
        json::value outcome = "completed";   // a task's isCompleted names nothing more
        if (kind == "appointment") {
            if (const auto* name = string_at(now, "outcome"); name && !name->get_string().empty()) outcome = *name;
            else if (const auto* status = string_at(now, "status")) outcome = *status;
        }
        changes.push_back({"showing_completed", json::object{{"outcome", std::move(outcome)}}});
    }
    return changes;
}

std::vector<ObservedChange> person_changes(const std::optional<json::object>& known, const json::object* record) {
    std::vector<ObservedChange> changes;
    if (!known || !record) return changes;   // unknown before: nothing to compare; deleted: not a buyer update
    const json::object now = *watched_fields("person", *record);
    json::array changed;
    json::object values;
    for (std::string_view key : kPersonKeys)
        if (!same_field(key, *known, now)) {
            changed.emplace_back(key);
            values[key] = value_or_null(now, key);
        }
    if (changed.empty()) return changes;
    json::object fields{{"changed", std::move(changed)}};
    for (auto& [key, value] : values) fields[key] = std::move(value);
    changes.push_back({"buyer_updated", std::move(fields)});
    return changes;
}

json::value id_or_null(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v) return nullptr;
    std::string id = id_of(*v);
    if (id.empty()) return nullptr;
    return json::value(cut_utf8(id, kWatchedTextBytes));
}

json::value text_or_null(const json::object& o, std::string_view key) {
    const auto* v = string_at(o, key);
    if (!v) return nullptr;
    return json::value(cut_utf8(v->get_string(), kWatchedTextBytes));
}

}  // namespace

std::string watched_state(std::string_view kind, const json::object& record) {
    auto fields = watched_fields(kind, record);
    return fields ? json::serialize(*fields) : std::string();
}

std::vector<ObservedChange> observe_change(std::string_view kind, std::string_view known_state,
                                           const json::object* record) {
    if (kind == "person") return person_changes(parse_state(known_state), record);
    if (kind == "appointment" || kind == "task") return showing_changes(kind, parse_state(known_state), record);
    return {};   // notes are our own (agents' notes arrive through note_added); unknown kinds say nothing
}

std::vector<std::string> fields_changed_in_crm(std::string_view kind, std::string_view written_state,
                                               std::string_view crm_state) {
    std::vector<std::string> changed;
    const auto written = parse_state(written_state), now = parse_state(crm_state);
    if (!written || !now) return changed;
    const auto collect = [&](const auto& keys) {
        for (std::string_view key : keys)
            if (!same_field(key, *written, *now)) changed.emplace_back(key);
    };
    if (kind == "person") collect(kPersonKeys);
    else if (kind == "appointment") collect(kAppointmentKeys);
    else if (kind == "task") collect(kTaskKeys);
    return changed;
}

ObservedChange note_added(const json::object& note) {
    return {"agent_note_added", json::object{{"noteId", id_or_null(note, "id")},
                                             {"personId", id_or_null(note, "personId")},
                                             {"subject", text_or_null(note, "subject")},
                                             {"body", text_or_null(note, "body")}}};
}

std::int64_t record_updated_ms(const json::object& record) {
    for (std::string_view key : {"updated", "created"})
        if (const auto* v = record.if_contains(key))
            if (const auto ms = instant_ms(*v); ms && *ms > 0) return *ms;
    return 0;
}

std::string with_fields_of(std::string_view state, std::string_view from_state, const std::vector<std::string>& fields) {
    boost::system::error_code ec;
    auto into = json::parse(state, ec);
    if (ec || !into.is_object()) return {};
    const auto from = json::parse(from_state, ec);
    if (ec || !from.is_object()) return std::string(state);
    for (const auto& f : fields) {
        if (const auto* v = from.get_object().if_contains(f)) into.get_object()[f] = *v;
        else into.get_object().erase(f);
    }
    return json::serialize(into);
}

}  // namespace rollout_mcp::rollout
