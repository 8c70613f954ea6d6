// Internal to the adapters: what the tour, feedback and buyer-contact flows share (marker look-ups with the
// legacy rule, ledger reads, the outcome being built).
#pragma once

#include "adapter.hpp"
#include "rollout/crm_watch.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::rollout::detail {

bool has_tag(const boost::json::object& person, const std::string& tag);
// Whether any of the record's text fields (description, name, title, body, subject) carries the marker.
bool text_contains(const boost::json::object& o, const std::string& marker);
// The ledger's external id for (kind, local id), "" when the ledger has none.
std::string known_id(const SyncTarget& target, std::string_view kind, std::string_view local_id);
// Whether a record found by a team-less marker may be taken as ours (never when SyncTarget::legacy_markers is off;
// else SyncTarget::accept_legacy_markers, or the team's ledger already maps that record as a `kind`).
bool legacy_accepted(const SyncTarget& target, std::string_view kind, const std::string& id);
// The id of the first item (records of `kind`) carrying `marker` in a text field (or, when accepted, the legacy
// marker); "".
std::string find_marked(const std::vector<boost::json::object>& items, std::string_view kind, const std::string& marker,
                        const std::string& legacy, const SyncTarget& target);
// The person carrying the buyer's marker tag: the team's tag first, then (SyncTarget::legacy_markers) the legacy
// tag, taken only when accepted.
boost::asio::awaitable<Result<std::optional<Record>>> find_buyer_by_marker(RolloutClient& client,
                                                                           const SyncTarget& target,
                                                                           const CrmAdapter& adapter,
                                                                           const std::string& buyer_local);
// A create that answered 2xx without an id may still have created the record: permanent (retrying
// blindly would duplicate it) and uncertain (a later retry looks the marker up first).
std::optional<Error> created_without_id(const Record& created, std::string_view kind);

// For an update of the ledger's record (kind, local id): removes from `body` the fields the CRM's users changed
// since our last write (SyncTarget::states), so the CRM keeps their values, and names the removed ones. A field
// the body does not carry (an appointment's status) is not named. Only for updates: a create sends everything.
std::vector<std::string> drop_crm_edits(const SyncTarget& target, std::string_view kind, std::string_view local_id,
                                        boost::json::object& body);

// The outcome being built; `fail` records the error and returns the outcome to co_return.
struct Progress {
    SyncOutcome out;
    // `as_returned`: the CRM's reply naming the record (its crm_state); nullptr when only the id is at hand. A
    // reply that does not carry the record's id (an empty or partial body) is not taken for the record.
    void add(std::string kind, std::string local, std::string ext, Action a, const Record* as_returned) {
        std::string state;
        if (as_returned && as_returned->id == ext) state = watched_state(kind, as_returned->data);
        out.records.push_back({std::move(kind), std::move(local), std::move(ext), a, std::move(state)});
    }
    // After a successful update (and its add) that left `fields` (drop_crm_edits) as the CRM has them: the record's
    // written_state keeps our earlier values of those fields, so the next update keeps them again.
    void keep(const SyncTarget& target, std::string kind, std::string local, std::vector<std::string> fields) {
        if (fields.empty()) return;
        const auto states = target.states.find(known_key(kind, local));
        for (auto it = out.records.rbegin(); it != out.records.rend(); ++it)
            if (it->kind == kind && it->local_id == local) {
                if (states != target.states.end() && !it->crm_state.empty())
                    it->written_state = with_fields_of(it->crm_state, states->second.first, fields);
                break;
            }
        out.kept.push_back({std::move(kind), std::move(local), std::move(fields)});
    }
    void bind(std::string kind, std::string local, std::string value) {
        out.bindings.push_back({std::move(kind), std::move(local), std::move(value), Action::found, std::string()});
    }
    SyncOutcome fail(Error e) {
        out.error = std::move(e);
        return std::move(out);
    }
    bool failed() const { return out.error.has_value(); }
};

// One contact per buyer per CRM (docs/ARCHITECTURE.md, "Buyer identity"). The person a tour's visits go on and the
// person a feedback note goes on: the buyer's own contact when the ledger, its marker, email or phone
// finds one; else the tour's placeholder, upgraded in place or bound to the buyer; else a new person. A
// placeholder another contact won over is tagged reanna:superseded (its visits re-pointed), never deleted.
// "" with p.failed() on an error.
boost::asio::awaitable<std::string> tour_person(RolloutClient& client, const SyncTarget& target,
                                                const CrmAdapter& adapter, const Tour& tour, Progress& p);
boost::asio::awaitable<std::string> feedback_person(RolloutClient& client, const SyncTarget& target,
                                                    const CrmAdapter& adapter, const Feedback& feedback,
                                                    Progress& p);

}  // namespace rollout_mcp::rollout::detail
