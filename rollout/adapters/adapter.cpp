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

// The type named `name` (case-insensitive), created when the CRM has none by that name.
asio::awaitable<Result<AppointmentType>> look_up_appointment_type(RolloutClient& client, const std::string& cred,
                                                                  const std::string& name) {
    auto types = co_await client.list_appointment_types(cred);
    if (!types && types.error().code == ErrorKind::not_found) co_return AppointmentType{std::string(), true};
    if (!types) co_return std::move(types).error();
    for (const auto& t : types.value())
        if (const auto* n = t.if_contains("name"); n && n->is_string() && ascii_lower(n->as_string()) == ascii_lower(name))
            co_return AppointmentType{id_of(t.at("id")), false};
    json::object body;
    body["name"] = name;
    body["orderWeight"] = 0;
    auto c = co_await client.create_appointment_type(cred, std::move(body));
    if (!c) co_return std::move(c).error();
    if (auto e = created_without_id(*c, "appointment type")) co_return std::move(*e);
    co_return AppointmentType{c->id, false};
}

// A write the CRM refused outright (nothing was written) in a way a deleted appointment type would explain.
bool may_name_a_missing_type(const Error& e) {
    return !e.uncertain && (e.code == ErrorKind::validation || e.code == ErrorKind::not_found);
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
            auto found = co_await look_up_appointment_type(client, cred, options_.appointment_type);
            if (!found) co_return p.fail(std::move(found).error());
            type = std::move(found).value();
            if (!type.use_tasks) p.bind("appointment_type", options_.appointment_type, type.id);
        }
    }

    // 4. One appointment (or task) per visit.
    const std::string kind = type.use_tasks ? "task" : "appointment";
    const std::string collection = type.use_tasks ? "tasks" : "appointments";
    for (const auto& visit : tour.properties) {
        const std::string local = visit_local_id(tour.tour_id, visit.property_id);
        std::string existing;
        if (auto it = target.known.find(known_key(kind, local)); it != target.known.end()) existing = it->second;
        else if (target.recover) {
            for (const auto& person : people) {
                auto list = co_await client.list_for_person(cred, collection, person);
                if (!list) co_return p.fail(std::move(list).error());
                existing = find_marked(list.value(), visit_marker(tour, visit), legacy_visit_marker(tour, visit), target);
                if (!existing.empty()) break;
            }
        }
        const auto visit_body = [&] {
            return type.use_tasks ? task_body(tour, visit, person_id, user_id)
                                  : appointment_body(tour, visit, person_id, type.id, user_id);
        };
        for (;;) {
            std::optional<Error> refused;
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
                if (u.error().code != ErrorKind::not_found) refused = std::move(u).error();
                else existing.clear();   // deleted in the CRM: created again below, with everything
            }
            if (!refused) {
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
            if (!type_from_ledger || !may_name_a_missing_type(*refused)) co_return p.fail(std::move(*refused));
            type_from_ledger = false;   // looked up at most once per tour
            auto fresh = co_await look_up_appointment_type(client, cred, options_.appointment_type);
            if (!fresh) co_return p.fail(std::move(fresh).error());
            // The same type (or none): the refusal was about something else.
            if (fresh->use_tasks || fresh->id == type.id) co_return p.fail(std::move(*refused));
            type.id = fresh->id;
            p.bind("appointment_type", options_.appointment_type, type.id);
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
        existing = find_marked(list.value(), feedback_marker(fb), legacy_feedback_marker(fb), target);
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
