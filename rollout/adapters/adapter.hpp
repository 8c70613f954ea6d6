// CRM adapters: map a canonical Tour / Feedback onto Rollout Universal CRM calls for one connected CRM
// (one credential), returning every record created/updated so the caller can keep its ledger.
#pragma once

#include "rollout/client.hpp"
#include "rollout/model.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::rollout {

// "gohighlevel" -> "highlevel", "fub"/"followupboss" -> "follow-up-boss", "kvcore" -> "boldtrail",
// "chime" -> "lofty", ...; other names are lower-cased and trimmed.
std::string canonical_crm_type(std::string_view name);

enum class Action { created, updated, found };
std::string_view to_string(Action a);

struct SyncRecord {
    std::string kind;         // person | appointment | task | note
    std::string local_id;     // buyer id ("tour-<tourId>" without one), "<tour>/<property>", "<tour>/<property>/<buyer>"
    std::string external_id;  // the Rollout/CRM record id
    Action action = Action::created;
    // watched_state (rollout/crm_watch.hpp) of the record as the CRM returned it when we created, updated or found
    // it, so a webhook's read-back of our own write compares equal; "" when we had only its id.
    std::string crm_state;
    // What we wrote, when it differs from crm_state: an update that kept fields as the CRM's users set them wrote
    // the earlier values of those (so they stay "changed in the CRM" and are kept again next time); "" = crm_state.
    std::string written_state = {};
};

// Ledger keys: known_key("person", "B-17") == "person:B-17".
using KnownIds = std::map<std::string, std::string>;
std::string known_key(std::string_view kind, std::string_view local_id);

// known_key -> {written_state, crm_state}: the watched fields as the CRM answered our last write, and as the CRM
// has them now (webhooks move the second alone); "" = unknown.
using KnownStates = std::map<std::string, std::pair<std::string, std::string>>;

struct SyncTarget {
    std::string credential_id;  // X-Rollout-Credential-Id of the connected CRM
    KnownIds known;             // from the ledger: a repeated sync updates these instead of creating
    bool recover = false;       // the previous attempt was uncertain: look records up by marker before creating
    // Markers written before they named the team ("reanna:buyer:<id>") are looked for only when the team existed
    // then (a later team never wrote one, and searching costs a Rollout call per new buyer). They identify a
    // record only when this team's ledger already maps it, or when no other team on this server uses the same
    // CRM credential (two teams sharing one CRM account must never link each other's records).
    bool legacy_markers = true;
    bool accept_legacy_markers = false;
    // From the ledger, beside `known`: an update leaves out the fields the CRM's users changed since our last write
    // (rollout/crm_watch.hpp, fields_changed_in_crm; README, "Changes from the CRM").
    KnownStates states = {};
};

// Fields an update left as the CRM's users set them (keptFromCrm in the job's result).
struct KeptFromCrm {
    std::string kind;                 // person | appointment | task
    std::string local_id;             // as in SyncRecord
    std::vector<std::string> fields;  // watched field names, which are also the body's keys (startsAt, firstName ...)
};

struct SyncOutcome {
    std::vector<SyncRecord> records;  // everything done so far, also when `error` is set
    // Ledger-only rows, not CRM records: ("tour_buyer", tour id, buyer id) binds a tour to its buyer;
    // ("superseded", "tour-<id>", person id) records a placeholder another contact won over;
    // ("appointment_type", the type's name, its id) spares later tours the look-up.
    std::vector<SyncRecord> bindings;
    std::vector<KeptFromCrm> kept = {};   // per updated record, the CRM's values we did not overwrite
    std::optional<Error> error;
    bool ok() const { return !error; }
};

struct AdapterOptions {
    // The team the markers name ("reanna:<team>:buyer:<id>"); empty = the team-less form of before.
    std::string team;
    bool appointments_supported = true;  // from GET /connectors (crm.appointments.create); false -> tasks
    std::string appointment_type = "Showing";
    int default_duration_minutes = 30;
};

enum class TimeStyle { utc, local_offset };

class CrmAdapter {
public:
    explicit CrmAdapter(std::string crm_type, AdapterOptions options)
        : crm_type_(std::move(crm_type)), options_(std::move(options)) {}
    virtual ~CrmAdapter() = default;

    const std::string& crm_type() const { return crm_type_; }
    const AdapterOptions& options() const { return options_; }

    // The buyer's person (buyer_contact.cpp: ledger id, marker tag, email, phone, the tour's placeholder,
    // else created; docs/ARCHITECTURE.md, "Buyer identity"), then one appointment (or task) per visit. Stops at the first error; records done so far are returned with it.
    boost::asio::awaitable<SyncOutcome> sync_tour(RolloutClient& client, SyncTarget target, Tour tour) const;
    // A note on the buyer's person naming the property and tour (created, or updated when known).
    boost::asio::awaitable<SyncOutcome> sync_feedback(RolloutClient& client, SyncTarget target,
                                                      Feedback feedback) const;

    // Per-CRM shaping (public so golden tests can check the bodies directly too).
    virtual TimeStyle time_style() const { return TimeStyle::utc; }
    virtual bool note_subject() const { return true; }  // false: the CRM's notes have a body only
    virtual boost::json::object person_body(const Tour& tour) const;
    virtual boost::json::object appointment_body(const Tour& tour, const PropertyVisit& visit,
                                                 const std::string& person_id, const std::string& type_id,
                                                 const std::optional<std::string>& user_id) const;
    virtual boost::json::object task_body(const Tour& tour, const PropertyVisit& visit, const std::string& person_id,
                                          const std::optional<std::string>& user_id) const;
    virtual boost::json::object note_body(const Feedback& feedback, const std::string& person_id) const;

    std::string format_time(const Timestamp& t) const;
    // Markers naming the team: "reanna:<team>:buyer:<id>", "[reanna:<team>:visit:T/P]",
    // "[reanna:<team>:feedback:T/P/B]" (without a team: the legacy forms below).
    std::string buyer_tag(std::string_view buyer_local_id) const;
    std::string visit_marker(const Tour& tour, const PropertyVisit& visit) const;
    std::string feedback_marker(const Feedback& feedback) const;
    static std::string legacy_buyer_tag(std::string_view buyer_local_id);                  // "reanna:buyer:<id>"
    static std::string legacy_visit_marker(const Tour& tour, const PropertyVisit& visit);  // "[reanna:visit:T/P]"
    static std::string legacy_feedback_marker(const Feedback& feedback);                   // "[reanna:feedback:T/P/B]"

protected:
    std::string visit_description(const Tour& tour, const PropertyVisit& visit) const;

private:
    std::string crm_type_;
    AdapterOptions options_;
};

std::unique_ptr<CrmAdapter> make_highlevel_adapter(AdapterOptions options = {});
std::unique_ptr<CrmAdapter> make_lofty_adapter(AdapterOptions options = {});
std::unique_ptr<CrmAdapter> make_follow_up_boss_adapter(AdapterOptions options = {});
std::unique_ptr<CrmAdapter> make_generic_adapter(std::string crm_type, AdapterOptions options = {});
// By (canonicalised) CRM type; any other connector key gets the generic adapter.
std::unique_ptr<CrmAdapter> make_adapter(std::string_view crm_type, AdapterOptions options = {});

}  // namespace rollout_mcp::rollout
