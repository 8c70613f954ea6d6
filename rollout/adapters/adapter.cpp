// The sync flow shared by every CRM adapter: buyer person, agent user, appointment type, visits, notes,
// with ledger ids (update instead of create) and marker look-ups after an uncertain attempt.
#include "adapter.hpp"

#include <algorithm>
#include <cctype>

namespace rollout_mcp::rollout {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool has_tag(const json::object& person, const std::string& tag) {
    const auto* tags = person.if_contains("tags");
    if (!tags || !tags->is_array()) return false;
    return std::any_of(tags->as_array().begin(), tags->as_array().end(),
                       [&](const json::value& t) { return t.is_string() && t.as_string() == tag; });
}

// Whether any of the record's text fields (description, name, title, body, subject) carries the marker.
bool text_contains(const json::object& o, const std::string& marker) {
    static constexpr const char* fields[] = {"description", "name", "title", "body", "subject"};
    for (const char* f : fields)
        if (const auto* v = o.if_contains(f); v && v->is_string() &&
                                              std::string_view(v->as_string()).find(marker) != std::string_view::npos)
            return true;
    return false;
}

// Holds the outcome being built; `fail` records the error and returns the outcome to co_return.
struct Progress {
    SyncOutcome out;
    void add(std::string kind, std::string local, std::string ext, Action a) {
        out.records.push_back({std::move(kind), std::move(local), std::move(ext), a});
    }
    SyncOutcome fail(Error e) {
        out.error = std::move(e);
        return std::move(out);
    }
};

}  // namespace

std::string canonical_crm_type(std::string_view name) {
    std::string n = lower(name);
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

asio::awaitable<SyncOutcome> CrmAdapter::sync_tour(RolloutClient& client, SyncTarget target, Tour tour) const {
    Progress p;
    const std::string& cred = target.credential_id;
    const std::string buyer_local = buyer_local_id(tour.buyer_id, tour.tour_id);
    const std::string tag = buyer_tag(buyer_local);

    // 1. The buyer's person.
    std::string person_id;
    if (auto it = target.known.find(known_key("person", buyer_local)); it != target.known.end()) {
        person_id = it->second;
        if (tour.buyer) {
            auto upd = co_await client.update_person(cred, person_id, person_body(tour));
            if (upd) p.add("person", buyer_local, person_id, Action::updated);
            else if (upd.error().kind == ErrorKind::not_found) person_id.clear();  // deleted in the CRM
            else co_return p.fail(std::move(upd).error());
        }
    }
    if (person_id.empty()) {
        std::optional<Record> found;
        if (tour.buyer && tour.buyer->email) {
            auto r = co_await client.find_person_by_email(cred, *tour.buyer->email);
            if (!r) co_return p.fail(std::move(r).error());
            found = std::move(r).value();
        }
        if (!found) {
            auto r = co_await client.find_person_by_tag(cred, tag);
            if (!r) co_return p.fail(std::move(r).error());
            found = std::move(r).value();
        }
        if (found) {
            person_id = found->id;
            if (!has_tag(found->data, tag)) {
                std::vector<std::string> tags;
                tags.push_back("reanna");
                tags.push_back(tag);
                auto t = co_await client.apply_person_tags(cred, person_id, std::move(tags));
                if (!t) co_return p.fail(std::move(t).error());
            }
            p.add("person", buyer_local, person_id, Action::found);
        } else {
            auto c = co_await client.create_person(cred, person_body(tour));
            if (!c) co_return p.fail(std::move(c).error());
            person_id = c->id;
            if (person_id.empty())
                co_return p.fail(Error{ErrorKind::permanent, 0, "Rollout created a person without an id", true});
            p.add("person", buyer_local, person_id, Action::created);
        }
    }

    // 2. The agent's CRM user (optional: an unknown agent just leaves the assignment empty).
    std::optional<std::string> user_id;
    if (tour.agent_email) {
        auto users = co_await client.list_users(cred);
        if (users)
            for (const auto& u : users.value()) {
                const auto* e = u.if_contains("email");
                if (e && e->is_string() && lower(e->as_string()) == lower(*tour.agent_email)) {
                    if (const auto* id = u.if_contains("id")) user_id = id_of(*id);
                    break;
                }
            }
    }

    // 3. Appointment type (appointments need one), else tasks.
    bool use_tasks = !options_.appointments_supported;
    std::string type_id;
    if (!use_tasks) {
        auto types = co_await client.list_appointment_types(cred);
        if (!types && types.error().kind == ErrorKind::not_found) use_tasks = true;
        else if (!types) co_return p.fail(std::move(types).error());
        else {
            for (const auto& t : types.value())
                if (const auto* n = t.if_contains("name");
                    n && n->is_string() && lower(n->as_string()) == lower(options_.appointment_type)) {
                    type_id = id_of(t.at("id"));
                    break;
                }
            if (type_id.empty()) {
                json::object body;
                body["name"] = options_.appointment_type;
                body["orderWeight"] = 0;
                auto c = co_await client.create_appointment_type(cred, std::move(body));
                if (!c) co_return p.fail(std::move(c).error());
                type_id = c->id;
            }
        }
    }

    // 4. One appointment (or task) per visit.
    const std::string kind = use_tasks ? "task" : "appointment";
    const std::string collection = use_tasks ? "tasks" : "appointments";
    for (const auto& visit : tour.properties) {
        const std::string local = visit_local_id(tour.tour_id, visit.property_id);
        json::object body = use_tasks ? task_body(tour, visit, person_id, user_id)
                                      : appointment_body(tour, visit, person_id, type_id, user_id);
        std::string existing;
        if (auto it = target.known.find(known_key(kind, local)); it != target.known.end()) existing = it->second;
        else if (target.recover) {
            auto list = co_await client.list_for_person(cred, collection, person_id);
            if (!list) co_return p.fail(std::move(list).error());
            for (const auto& item : list.value())
                if (text_contains(item, visit_marker(tour, visit))) {
                    existing = id_of(item.at("id"));
                    break;
                }
        }
        if (!existing.empty()) {
            Result<Record> u;  // (no co_await inside ?: : GCC 12 destroys such temporaries twice)
            if (use_tasks) u = co_await client.update_task(cred, existing, body);
            else u = co_await client.update_appointment(cred, existing, body);
            if (u) {
                p.add(kind, local, existing, Action::updated);
                continue;
            }
            if (u.error().kind != ErrorKind::not_found) co_return p.fail(std::move(u).error());
        }
        Result<Record> c;
        if (use_tasks) c = co_await client.create_task(cred, std::move(body));
        else c = co_await client.create_appointment(cred, std::move(body));
        if (!c) co_return p.fail(std::move(c).error());
        p.add(kind, local, c->id, Action::created);
    }
    co_return std::move(p.out);
}

asio::awaitable<SyncOutcome> CrmAdapter::sync_feedback(RolloutClient& client, SyncTarget target,
                                                       Feedback fb) const {
    Progress p;
    const std::string& cred = target.credential_id;
    const std::string buyer_local = buyer_local_id(fb.buyer_id, fb.tour_id);
    const std::string tag = buyer_tag(buyer_local);

    std::string person_id;
    if (auto it = target.known.find(known_key("person", buyer_local)); it != target.known.end())
        person_id = it->second;
    else {
        auto r = co_await client.find_person_by_tag(cred, tag);
        if (!r) co_return p.fail(std::move(r).error());
        if (r.value()) {
            person_id = r.value()->id;
            p.add("person", buyer_local, person_id, Action::found);
        } else {  // feedback before (or without) its tour: a minimal person carrying the marker tag
            Tour stub;
            stub.tour_id = fb.tour_id;
            stub.buyer_id = fb.buyer_id;
            auto c = co_await client.create_person(cred, person_body(stub));
            if (!c) co_return p.fail(std::move(c).error());
            person_id = c->id;
            p.add("person", buyer_local, person_id, Action::created);
        }
    }

    const std::string local = feedback_local_id(fb);
    json::object body = note_body(fb, person_id);
    std::string existing;
    if (auto it = target.known.find(known_key("note", local)); it != target.known.end()) existing = it->second;
    else if (target.recover) {
        auto list = co_await client.list_for_person(cred, "notes", person_id);
        if (!list) co_return p.fail(std::move(list).error());
        for (const auto& item : list.value())
            if (text_contains(item, feedback_marker(fb))) {
                existing = id_of(item.at("id"));
                break;
            }
    }
    if (!existing.empty()) {
        auto u = co_await client.update_note(cred, existing, body);
        if (u) {
            p.add("note", local, existing, Action::updated);
            co_return std::move(p.out);
        }
        if (u.error().kind != ErrorKind::not_found) co_return p.fail(std::move(u).error());
    }
    auto c = co_await client.create_note(cred, std::move(body));
    if (!c) co_return p.fail(std::move(c).error());
    p.add("note", local, c->id, Action::created);
    co_return std::move(p.out);
}

}  // namespace rollout_mcp::rollout
