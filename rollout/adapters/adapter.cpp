// The sync flow shared by every CRM adapter: buyer person (buyer_contact.cpp), agent user, appointment type,
// visits, notes, with ledger ids (update instead of create) and marker look-ups after an uncertain attempt.
#include "adapter_support.hpp"
#include "base/ascii.hpp"

#include <algorithm>
#include <cctype>

namespace rollout_mcp::rollout {
namespace asio = boost::asio;
namespace json = boost::json;
using detail::created_without_id;
using detail::find_marked;
using detail::Progress;

std::string canonical_crm_type(std::string_view name) {
    std::string n = ascii_lower(name);
    n.erase(0, n.find_first_not_of(" \t"));
    n.erase(n.find_last_not_of(" \t") + 1);
    std::replace(n.begin(), n.end(), '_', '-');
    static const std::map<std::string, std::string> aliases = {
        {"gohighlevel", "highlevel"},        {"go-high-level", "highlevel"},  {"ghl", "highlevel"},
        {"leadconnector", "highlevel"},      {"high-level", "highlevel"},     {"followupboss", "follow-up-boss"},
        {"fub", "follow-up-boss"},           {"followup-boss", "follow-up-boss"}, {"kvcore", "boldtrail"},
        {"kv-core", "boldtrail"},            {"chime", "lofty"},              {"sierra", "sierra-interactive"},
        {"realgeeks", "real-geeks"},         {"wiseagent", "wise-agent"},     {"brokermint", "boldtrail-backoffice"},
    };
    if (auto it = aliases.find(n); it != aliases.end()) return it->second;
    return n;
}

std::string_view to_string(Action a) {
    switch (a) {
    case Action::created: return "created";
    case Action::updated: return "updated";
    case Action::found: return "found";
    }
    return "created";
}

std::string known_key(std::string_view kind, std::string_view local_id) {
    return std::string(kind) + ":" + std::string(local_id);
}

std::unique_ptr<CrmAdapter> make_adapter(std::string_view crm_type, AdapterOptions options) {
    const std::string key = canonical_crm_type(crm_type);
    if (key == "highlevel") return make_highlevel_adapter(std::move(options));
    if (key == "lofty") return make_lofty_adapter(std::move(options));
    if (key == "follow-up-boss") return make_follow_up_boss_adapter(std::move(options));
    return make_generic_adapter(key, std::move(options));
}

namespace {

struct AppointmentType {
    std::string id;
    bool use_tasks = false;   // the CRM has no appointment types (404): visits become tasks
};

// The type named `name` (case-insensitive), created when the CRM has none by that name. `current` (the ledger's id,
// or "") is kept while the CRM still lists it, whatever it is called now: a refusal was then not about the type.
asio::awaitable<Result<AppointmentType>> look_up_appointment_type(RolloutClient& client, const std::string& cred,
                                                                  const std::string& name, const std::string& current) {
    Result<AppointmentType> out{AppointmentType{}};
    auto types = co_await client.list_appointment_types(cred);
    if (!types && types.error().code == ErrorKind::not_found) {
        out = AppointmentType{std::string(), true};
        co_return out;
    }
    if (!types) {
        out = std::move(types).error();
        co_return out;
    }
    std::string by_name;
    for (const auto& t : types.value()) {
        const auto* id = t.if_contains("id");
        if (!id) continue;
        std::string type_id = id_of(*id);
        if (!current.empty() && type_id == current) {
            out = AppointmentType{std::move(type_id), false};
            co_return out;
        }
        const auto* n = t.if_contains("name");
        if (by_name.empty() && n && n->is_string() && ascii_lower(n->as_string()) == ascii_lower(name))
            by_name = std::move(type_id);
    }
    if (!by_name.empty()) {
        out = AppointmentType{std::move(by_name), false};
        co_return out;
    }
    json::object body;
    body["name"] = name;
    body["orderWeight"] = 0;
    auto c = co_await client.create_appointment_type(cred, std::move(body));
    if (!c) out = std::move(c).error();
    else if (auto e = created_without_id(*c, "appointment type")) out = std::move(*e);
    else out = AppointmentType{c->id, false};
    co_return out;
}

// A write the CRM refused outright (nothing was written) in a way a deleted appointment type would explain.
bool may_name_a_missing_type(const Error& e) {
    return !e.uncertain && (e.code == ErrorKind::validation || e.code == ErrorKind::not_found);
}

// The CRM's refusal stays the job's error when looking the type up again failed too (a validation error fails at
// once with the CRM's own message; README "Retries").
Error refusal_with(Error refused, const Error& look_up) {
    refused.message += " (looking the appointment type up again also failed: " + look_up.message + ")";
    return refused;
}

}  // namespace

asio::awaitable<SyncOutcome> CrmAdapter::sync_tour(RolloutClient& client, SyncTarget target, Tour tour) const {
    Progress p;
    const std::string& cred = target.credential_id;
    // 1. The buyer's person: one contact per buyer per CRM (buyer_contact.cpp).
    const std::string person_id = co_await detail::tour_person(client, target, *this, tour, p);
    if (p.failed()) co_return std::move(p.out);
    // Visits an interrupted attempt may have put on the tour's placeholder before the buyer was known.
    std::vector<std::string> people{person_id};
    if (auto placeholder = detail::known_id(target, "person", buyer_local_id(std::nullopt, tour.tour_id));
        !placeholder.empty() && placeholder != person_id)
        people.push_back(placeholder);

    // 2. The agent's CRM user (optional: an unknown agent just leaves the assignment empty).
    std::optional<std::string> user_id;
    if (tour.agent_email) {
        auto users = co_await client.list_users(cred);
        if (users)
            for (const auto& u : users.value()) {
                const auto* e = u.if_contains("email");
                if (e && e->is_string() && ascii_lower(e->as_string()) == ascii_lower(*tour.agent_email)) {
                    if (const auto* id = u.if_contains("id")) user_id = id_of(*id);
                    break;
                }
            }
    }

    // 3. Appointment type (appointments need one), else tasks. Its id is kept in the ledger ("appointment_type",
    // the type's name), so later tours skip listing the types; a write that names it and is refused looks it up
    // again once (the agent may have deleted the type in the CRM).
    AppointmentType type{std::string(), !options_.appointments_supported};
    bool type_from_ledger = false;
    if (!type.use_tasks) {
        type.id = detail::known_id(target, "appointment_type", options_.appointment_type);
        type_from_ledger = !type.id.empty();
        if (!type_from_ledger) {
            const std::string none;   // (named: GCC 12 destroys a temporary inside a co_await expression twice)
            auto found = co_await look_up_appointment_type(client, cred, options_.appointment_type, none);
            if (!found) co_return p.fail(std::move(found).error());
            type = std::move(found).value();
            if (!type.use_tasks) p.bind("appointment_type", options_.appointment_type, type.id);
        }
    }

    // 4. One appointment (or task) per visit.
    for (const auto& visit : tour.properties) {
        const std::string local = visit_local_id(tour.tour_id, visit.property_id);
        std::string kind = type.use_tasks ? "task" : "appointment";
        std::string existing;
        if (auto it = target.known.find(known_key(kind, local)); it != target.known.end()) existing = it->second;
        else if (target.recover) {
            const std::string collection = type.use_tasks ? "tasks" : "appointments";
            for (const auto& person : people) {
                auto list = co_await client.list_for_person(cred, collection, person);
                if (!list) co_return p.fail(std::move(list).error());
                existing = find_marked(list.value(), kind, visit_marker(tour, visit), legacy_visit_marker(tour, visit),
                                       target);
                if (!existing.empty()) break;
            }
        }
        const auto visit_body = [&] {
            return type.use_tasks ? task_body(tour, visit, person_id, user_id)
                                  : appointment_body(tour, visit, person_id, type.id, user_id);
        };
        // At most four passes: a refusal naming the ledger's type looks it up once (then the same write again,
        // or tasks), and an update answered "not found" becomes a create once.
        for (;;) {
            std::optional<Error> refused;
            bool gone = false;   // the update answered "not found": deleted in the CRM, or (stale type) refused
            if (!existing.empty()) {
                // The agent's edits in the CRM since our last write stay (a create below still sends everything).
                json::object body = visit_body();
                std::vector<std::string> kept = detail::drop_crm_edits(target, kind, local, body);
                Result<Record> u;  // (no co_await inside ?: : GCC 12 destroys such temporaries twice)
                if (type.use_tasks) u = co_await client.update_task(cred, existing, std::move(body));
                else u = co_await client.update_appointment(cred, existing, std::move(body));
                if (u) {
                    p.add(kind, local, existing, Action::updated, &u.value());
                    p.keep(target, kind, local, std::move(kept));
                    break;
                }
                refused = std::move(u).error();
                gone = refused->code == ErrorKind::not_found;
            } else {
                json::object body = visit_body();
                Result<Record> c;
                if (type.use_tasks) c = co_await client.create_task(cred, std::move(body));
                else c = co_await client.create_appointment(cred, std::move(body));
                if (c) {
                    if (auto e = created_without_id(*c, kind)) co_return p.fail(std::move(*e));
                    p.add(kind, local, c->id, Action::created, &c.value());
                    break;
                }
                refused = std::move(c).error();
            }
            // The ledger's type may have been deleted in the CRM since: looked up again once per tour, before an
            // update's "not found" is taken to mean the appointment is gone (it may be the type that is).
            if (type_from_ledger && may_name_a_missing_type(*refused)) {
                type_from_ledger = false;
                auto fresh = co_await look_up_appointment_type(client, cred, options_.appointment_type, type.id);
                if (!fresh) co_return p.fail(refusal_with(std::move(*refused), fresh.error()));
                if (!fresh->use_tasks && fresh->id != type.id) {   // the same write again, with the type's new id
                    type.id = fresh->id;
                    p.bind("appointment_type", options_.appointment_type, type.id);
                    continue;
                }
                // The CRM has no appointment types any more: tasks, as a first tour would have chosen, unless this
                // tour already has appointments (it must not end up with both).
                const std::string visits_of_tour = known_key("appointment", tour.tour_id + "/");
                const bool has_appointments =
                    !existing.empty() ||
                    std::any_of(target.known.begin(), target.known.end(),
                                [&](const auto& kv) { return kv.first.compare(0, visits_of_tour.size(), visits_of_tour) == 0; }) ||
                    std::any_of(p.out.records.begin(), p.out.records.end(), [](const auto& r) { return r.kind == "appointment"; });
                if (fresh->use_tasks && !has_appointments) {
                    type = AppointmentType{std::string(), true};
                    kind = "task";
                    if (auto it = target.known.find(known_key(kind, local)); it != target.known.end()) existing = it->second;
                    continue;
                }
            }
            if (!gone) co_return p.fail(std::move(*refused));
            existing.clear();   // deleted in the CRM: created again, with everything
        }
    }
    co_return std::move(p.out);
}

asio::awaitable<SyncOutcome> CrmAdapter::sync_feedback(RolloutClient& client, SyncTarget target,
                                                       Feedback fb) const {
    Progress p;
    const std::string& cred = target.credential_id;
    const std::string person_id = co_await detail::feedback_person(client, target, *this, fb, p);
    if (p.failed()) co_return std::move(p.out);

    const std::string local = feedback_local_id(fb);
    json::object body = note_body(fb, person_id);
    std::string existing;
    if (auto it = target.known.find(known_key("note", local)); it != target.known.end()) existing = it->second;
    else if (target.recover) {
        auto list = co_await client.list_for_person(cred, "notes", person_id);
        if (!list) co_return p.fail(std::move(list).error());
        existing = find_marked(list.value(), "note", feedback_marker(fb), legacy_feedback_marker(fb), target);
    }
    if (!existing.empty()) {
        auto u = co_await client.update_note(cred, existing, body);
        if (u) {
            p.add("note", local, existing, Action::updated, &u.value());
            co_return std::move(p.out);
        }
        if (u.error().code != ErrorKind::not_found) co_return p.fail(std::move(u).error());
    }
    auto c = co_await client.create_note(cred, std::move(body));
    if (!c) co_return p.fail(std::move(c).error());
    if (auto e = created_without_id(*c, "note")) co_return p.fail(std::move(*e));
    p.add("note", local, c->id, Action::created, &c.value());
    co_return std::move(p.out);
}

}  // namespace rollout_mcp::rollout
