// What we watch in a CRM record and how a change to it is classified: the rollout/ half of turning Rollout's
// thin webhook notifications into typed changes (README, "Changes from the CRM"; issue 20). Rollout tells us only
// which records changed (https://rollout.com/docs/advanced-guides/how-to-use-webhooks); the processor fetches each
// one (RolloutClient::get_crm_record), compares its watched fields with the snapshot the sync ledger keeps
// (`crm_state`, taken from the CRM's own reply to our write, so an echo of our write compares equal), and records
// what observe_change finds. Pure functions over Boost.JSON: any record shape, however hostile, gives an answer.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::rollout {

// The watched fields of a CRM record of `kind` ("person" | "appointment" | "task" | "note") as compact JSON
// object text with keys in a fixed order, absent fields omitted: person: firstName, lastName, emails (array of
// lower-cased values, sorted), phones (array of digit-only values, sorted); appointment: startsAt, endsAt,
// status, outcome (the outcome's name when `outcome` is an object or string), appointmentOutcomeId;
// task: name, dueDateTime, isCompleted; note: subject, body. "" for an unknown kind.
// A field of another JSON type than it should have counts as absent (times may be text or epoch milliseconds,
// ids text or integers, isCompleted a boolean). Texts are cut at 4096 bytes on a UTF-8 boundary; emails and
// phones are the values of `{value}` items (or plain strings), without duplicates or empty ones, at most 50,
// and omitted when there are none, so a CRM that drops an empty list and one that sends [] agree.
std::string watched_state(std::string_view kind, const boost::json::object& record);

// One typed change found by comparing a record with the state we last knew.
struct ObservedChange {
    std::string kind;              // one of storage's kinds: showing_rescheduled | showing_cancelled |
                                   // showing_completed | buyer_updated | agent_note_added
    boost::json::object fields;    // what changed: see below
};

// Compares the record as fetched now (nullptr: it was deleted, or the GET answered 404) with `known_state`
// (watched_state of the last version we wrote or saw; "" = unknown). Returns no change when every watched
// field is equal (our own write echoed back). Appointment/task: deleted, or status/outcome naming a
// cancellation -> showing_cancelled; outcome/status naming completion ("completed", "showed", "attended",
// "done"), or a task's isCompleted turning true -> showing_completed {outcome}; startsAt/endsAt (task:
// dueDateTime) changed -> showing_rescheduled {startsAt, endsAt, previousStartsAt, previousEndsAt}; several may
// apply (report cancellation alone when cancelled). Person: buyer_updated {changed: ["emails", ...], plus the new
// values of the changed fields}; deleted person -> nothing. Note: nothing (our own notes). With known_state ""
// an appointment/task reports only what is unambiguous (cancelled/completed), a person nothing.
// Details: two times are equal when they name the same instant, however spelled; a state that is not a JSON
// object counts as unknown; a cancellation or completion the known state already shows is not reported again
// (a deleted record whose state was cancelled: nothing); a record without a start time is not rescheduled.
// showing_cancelled carries {deleted: true}, or {deleted: false, status, outcome}; absent values are null.
std::vector<ObservedChange> observe_change(std::string_view kind, std::string_view known_state,
                                           const boost::json::object* record);

// The watched fields of a record of `kind` whose value in `crm_state` (what the CRM has now, as webhooks report
// it) differs from `written_state` (what the CRM answered our last write), in watched_state's order: the fields
// the CRM's users changed since that write, which a later update of ours leaves alone (README, "Changes from the
// CRM": keptFromCrm). Times compare as instants; a field present in one state only counts as changed. Empty when
// either state is "" or not a JSON object, or for a kind without watched fields.
std::vector<std::string> fields_changed_in_crm(std::string_view kind, std::string_view written_state,
                                               std::string_view crm_state);
// `state` with each of `fields` taken from `from_state` (absent there: removed); both watched_state texts. "" when
// `state` is not a JSON object; `state` itself when `from_state` is not one.
std::string with_fields_of(std::string_view state, std::string_view from_state, const std::vector<std::string>& fields);

// A note created in the CRM by its users on a person we know: agent_note_added {noteId, personId, subject, body}
// (body cut at 4096 bytes on a UTF-8 boundary; the subject too). Absent or mistyped fields are null.
ObservedChange note_added(const boost::json::object& note);

// The record's own change time (its `updated`, else `created`) in Unix ms, 0 when absent or unparsable.
// ISO 8601 with a UTC offset or epoch milliseconds; an `updated` that does not parse falls back to `created`,
// and an instant before 1970 counts as unparsable.
std::int64_t record_updated_ms(const boost::json::object& record);

}  // namespace rollout_mcp::rollout
