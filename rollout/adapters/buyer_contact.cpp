// One contact per buyer per CRM. A tour may arrive without a buyer (its visits then go on a placeholder
// person named after the tour), and the buyer may be named later by the tour's feedback or by the same tour
// sent again with buyer details. Every path converges on one contact:
//  - the buyer's contact in the ledger wins; else one found by the buyer's email or phone, or by the
//    buyer's marker tag (it may have been made by feedback that came before the tour);
//  - else the tour's placeholder becomes the buyer's contact: upgraded in place (name, email, phone, tags)
//    when the tour carries details, else tagged with the buyer's marker, and bound in the ledger;
//  - else a new person.
// When the buyer's contact is another person than the tour's placeholder, the placeholder is tagged
// reanna:superseded and left for the agent (never deleted), and the tour's visits are re-pointed to the
// buyer's contact. A tour -> buyer binding in the ledger ("tour_buyer", tour id -> buyer id) lets a later
// tour without a buyer, or feedback without one, find the buyer. Jobs touching the same tour or buyer in
// one CRM never run at the same time (the outbox serializes them), so these reads and writes do not race.
#include "adapter_support.hpp"

namespace rollout_mcp::rollout::detail {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

const std::string kSuperseded = "reanna:superseded";
constexpr const char* kVisitKinds[] = {"appointment", "task"};

// Adds "reanna" and `tag` to a person (tags merge in the CRM, so repeating it is harmless). The person as the
// CRM returned it (POST /people/{id}/tags/apply answers with the person), or nullopt with p.failed().
asio::awaitable<std::optional<Record>> tag_person(RolloutClient& client, const SyncTarget& target,
                                                  const std::string& person_id, const std::string& tag, Progress& p) {
    std::vector<std::string> tags;
    tags.push_back("reanna");
    tags.push_back(tag);
    auto t = co_await client.apply_person_tags(target.credential_id, person_id, std::move(tags));
    if (!t) {
        p.out.error = std::move(t).error();
        co_return std::nullopt;
    }
    std::optional<Record> tagged = std::move(t).value();
    co_return tagged;
}

// A new person as the CRM returned it; nullopt with p.failed() when Rollout refused or answered without an id.
asio::awaitable<std::optional<Record>> create_person(RolloutClient& client, const SyncTarget& target,
                                                     json::object body, Progress& p) {
    auto c = co_await client.create_person(target.credential_id, std::move(body));
    if (!c) {
        p.out.error = std::move(c).error();
        co_return std::nullopt;
    }
    if (auto e = created_without_id(*c, "person")) {
        p.out.error = std::move(*e);
        co_return std::nullopt;
    }
    std::optional<Record> created = std::move(c).value();
    co_return created;
}

// A contact found by the buyer's own details: email, then phone.
asio::awaitable<Result<std::optional<Record>>> find_by_details(RolloutClient& client, const SyncTarget& target,
                                                               const Tour& tour) {
    if (tour.buyer && tour.buyer->email) {
        auto r = co_await client.find_person_by_email(target.credential_id, *tour.buyer->email);
        if (!r || r.value()) co_return r;
    }
    if (!tour.buyer || !tour.buyer->phone) co_return std::optional<Record>{};
    auto r = co_await client.find_person_by_phone(target.credential_id, *tour.buyer->phone);
    if (!r || !r.value() || !tour.buyer->email) co_return r;
    // A shared number (a household, an office line) is not an identity: a contact found by phone whose
    // emails do not include the buyer's is someone else.
    const auto* emails = r.value()->data.if_contains("emails");
    if (emails && emails->is_array() && !emails->as_array().empty()) co_return std::optional<Record>{};
    co_return r;
}

// The tour's placeholder (ledger first, then its marker tag), "" when there is none.
asio::awaitable<std::string> placeholder_of(RolloutClient& client, const SyncTarget& target, const CrmAdapter& adapter,
                                            const std::string& tour_id, Progress& p) {
    const std::string local = buyer_local_id(std::nullopt, tour_id);
    std::string id = known_id(target, "person", local);
    if (!id.empty()) co_return id;
    auto found = co_await find_buyer_by_marker(client, target, adapter, local);
    if (!found) {
        p.out.error = std::move(found).error();
        co_return std::string();
    }
    co_return found.value() ? found.value()->id : std::string();
}

// The placeholder lost to the buyer's own contact: re-point the tour's known visits (when asked; a tour job
// re-points them itself with full updates), then tag it superseded, once.
asio::awaitable<void> supersede(RolloutClient& client, const SyncTarget& target, const std::string& tour_id,
                                const std::string& placeholder_id, const std::string& person_id, bool repoint,
                                Progress& p) {
    const std::string local = buyer_local_id(std::nullopt, tour_id);
    if (!known_id(target, "superseded", local).empty()) co_return;
    if (repoint)
        for (const auto& [key, id] : target.known)
            for (const std::string kind : kVisitKinds) {
                const std::string prefix = kind + ":" + tour_id + "/";
                if (key.rfind(prefix, 0) != 0 || key.find('/', prefix.size()) != std::string::npos) continue;
                json::object body{{"personId", person_id}};
                Result<Record> u;  // (no co_await inside ?: : GCC 12 destroys such temporaries twice)
                if (kind == "task") u = co_await client.update_task(target.credential_id, id, std::move(body));
                else u = co_await client.update_appointment(target.credential_id, id, std::move(body));
                if (!u && u.error().code != ErrorKind::not_found) {
                    p.out.error = std::move(u).error();
                    co_return;
                }
                if (u) p.add(kind, key.substr(kind.size() + 1), id, Action::updated, &u.value());
            }
    auto tagged = co_await tag_person(client, target, placeholder_id, kSuperseded, p);
    if (!tagged) co_return;
    p.bind("superseded", local, placeholder_id);
}

}  // namespace

asio::awaitable<std::string> tour_person(RolloutClient& client, const SyncTarget& target, const CrmAdapter& adapter,
                                         const Tour& tour, Progress& p) {
    const std::string& cred = target.credential_id;
    const std::string placeholder_local = buyer_local_id(std::nullopt, tour.tour_id);
    std::optional<std::string> buyer = tour.buyer_id;
    if (!buyer)   // feedback named the buyer of this tour earlier
        if (auto bound = known_id(target, "tour_buyer", tour.tour_id); !bound.empty()) buyer = bound;
    const std::string buyer_local = buyer ? *buyer : placeholder_local;
    const std::string tag = adapter.buyer_tag(buyer_local);
    Tour shaped = tour;   // named and tagged as the buyer it resolves to
    shaped.buyer_id = buyer;
    std::string placeholder_id = known_id(target, "person", placeholder_local);
    std::string person_id = known_id(target, "person", buyer_local);
    const bool from_ledger = !person_id.empty();
    Action action = Action::found;
    std::optional<Record> returned;   // the person as the CRM last returned it (SyncRecord::crm_state)

    std::vector<std::string> kept;   // the contact's fields its CRM's users changed since our last write
    if (!person_id.empty() && tour.buyer) {   // details written onto the known contact (a placeholder: upgraded)
        json::object update = adapter.person_body(shaped);
        kept = drop_crm_edits(target, "person", buyer_local, update);
        auto upd = co_await client.update_person(cred, person_id, std::move(update));
        if (upd) {
            action = Action::updated;
            returned = std::move(upd).value();
        } else if (upd.error().code == ErrorKind::not_found) {   // deleted in the CRM
            person_id.clear();
            kept.clear();
        } else {
            p.out.error = std::move(upd).error();
            co_return std::string();
        }
    }
    if (person_id.empty()) {   // the buyer's own contact: details, then its marker
        auto r = co_await find_by_details(client, target, tour);
        if (!r) {
            p.out.error = std::move(r).error();
            co_return std::string();
        }
        std::optional<Record> found = std::move(r).value();
        bool ours = false;   // found by our marker: a record we made (e.g. by feedback before its tour)
        if (!found && buyer) {
            auto m = co_await find_buyer_by_marker(client, target, adapter, *buyer);
            if (!m) {
                p.out.error = std::move(m).error();
                co_return std::string();
            }
            found = std::move(m).value();
            ours = found.has_value();
        }
        if (found) {
            person_id = found->id;
            if (ours && tour.buyer) {   // our record gets the buyer's details (an agent's own contact is left as is)
                auto upd = co_await client.update_person(cred, person_id, adapter.person_body(shaped));
                if (!upd) {
                    p.out.error = std::move(upd).error();
                    co_return std::string();
                }
                action = Action::updated;
                returned = std::move(upd).value();
            } else if (!has_tag(found->data, tag)) {
                auto tagged = co_await tag_person(client, target, person_id, tag, p);
                if (!tagged) co_return std::string();
                returned = std::move(tagged);
            } else {
                returned = std::move(found);
            }
        }
    }
    if (person_id.empty()) {   // the tour's placeholder becomes the buyer's contact
        // Its ledger row normally says whether there is one; its marker is searched for a tour without a
        // buyer (that is how its placeholder is found), or after an uncertain attempt.
        if (placeholder_id.empty() && (!buyer || target.recover))
            placeholder_id = co_await placeholder_of(client, target, adapter, tour.tour_id, p);
        if (p.failed()) co_return std::string();
        if (!placeholder_id.empty()) {
            person_id = placeholder_id;
            action = Action::updated;
            if (tour.buyer) {
                auto upd = co_await client.update_person(cred, person_id, adapter.person_body(shaped));
                if (!upd) {
                    p.out.error = std::move(upd).error();
                    co_return std::string();
                }
                returned = std::move(upd).value();
            } else if (buyer) {
                auto tagged = co_await tag_person(client, target, person_id, tag, p);
                if (!tagged) co_return std::string();
                returned = std::move(tagged);
            } else {
                action = Action::found;   // only its id is at hand
            }
        }
    }
    if (person_id.empty()) {
        auto created = co_await create_person(client, target, adapter.person_body(shaped), p);
        if (!created) co_return std::string();
        person_id = created->id;
        action = Action::created;
        returned = std::move(created);
    }
    if (!(from_ledger && action == Action::found))
        p.add("person", buyer_local, person_id, action, returned ? &*returned : nullptr);
    p.keep(target, "person", buyer_local, std::move(kept));   // empty unless the known contact was updated
    if (buyer && !placeholder_id.empty() && placeholder_id != person_id) {
        co_await supersede(client, target, tour.tour_id, placeholder_id, person_id, false, p);
        if (p.failed()) co_return std::string();
    }
    if (tour.buyer_id && known_id(target, "tour_buyer", tour.tour_id).empty())
        p.bind("tour_buyer", tour.tour_id, *tour.buyer_id);
    co_return person_id;
}

asio::awaitable<std::string> feedback_person(RolloutClient& client, const SyncTarget& target, const CrmAdapter& adapter,
                                             const Feedback& fb, Progress& p) {
    const std::string placeholder_local = buyer_local_id(std::nullopt, fb.tour_id);
    std::optional<std::string> buyer = fb.buyer_id;
    if (!buyer)   // the tour named its buyer: the note goes on that contact
        if (auto bound = known_id(target, "tour_buyer", fb.tour_id); !bound.empty()) buyer = bound;
    const std::string buyer_local = buyer ? *buyer : placeholder_local;
    const std::string tag = adapter.buyer_tag(buyer_local);
    std::string placeholder_id = known_id(target, "person", placeholder_local);
    std::string person_id = known_id(target, "person", buyer_local);
    const bool from_ledger = !person_id.empty();
    Action action = Action::found;
    std::optional<Record> returned;   // the person as the CRM last returned it (SyncRecord::crm_state)

    if (person_id.empty() && buyer) {   // the buyer's own contact, by its marker
        auto m = co_await find_buyer_by_marker(client, target, adapter, *buyer);
        if (!m) {
            p.out.error = std::move(m).error();
            co_return std::string();
        }
        if (m.value()) {
            person_id = m.value()->id;
            if (has_tag(m.value()->data, tag)) {
                returned = std::move(m.value());
            } else {
                auto tagged = co_await tag_person(client, target, person_id, tag, p);
                if (!tagged) co_return std::string();
                returned = std::move(tagged);
            }
        }
    }
    if (person_id.empty()) {   // the tour's placeholder: bound to the buyer (tagged with its marker)
        if (placeholder_id.empty() && (!buyer || target.recover))
            placeholder_id = co_await placeholder_of(client, target, adapter, fb.tour_id, p);
        if (p.failed()) co_return std::string();
        if (!placeholder_id.empty()) {
            person_id = placeholder_id;
            if (buyer) {
                auto tagged = co_await tag_person(client, target, person_id, tag, p);
                if (!tagged) co_return std::string();
                action = Action::updated;
                returned = std::move(tagged);
            }
        }
    }
    if (person_id.empty()) {   // feedback before (or without) its tour: a minimal person carrying the marker
        Tour stub;
        stub.tour_id = fb.tour_id;
        stub.buyer_id = buyer;
        auto created = co_await create_person(client, target, adapter.person_body(stub), p);
        if (!created) co_return std::string();
        person_id = created->id;
        action = Action::created;
        returned = std::move(created);
    }
    if (!(from_ledger && action == Action::found))
        p.add("person", buyer_local, person_id, action, returned ? &*returned : nullptr);
    if (buyer && !placeholder_id.empty() && placeholder_id != person_id) {
        co_await supersede(client, target, fb.tour_id, placeholder_id, person_id, true, p);
        if (p.failed()) co_return std::string();
    }
    if (fb.buyer_id && known_id(target, "tour_buyer", fb.tour_id).empty()) p.bind("tour_buyer", fb.tour_id, *fb.buyer_id);
    co_return person_id;
}

}  // namespace rollout_mcp::rollout::detail
