// The pure parts of processing a Rollout webhook delivery (hook_processor.hpp): reading its event name and ids,
// placing a ledger row's local id as tour / visit / buyer, one record per CRM id, and keeping secrets out of the
// text we store and log. No I/O; unit-tested in tests/sync/hook_processing_test.cpp.
#pragma once

#include "storage/storage.hpp"

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::hook_mapping {

enum class Action { created, updated, deleted };

struct EntityEvent {
    std::string_view kind;         // the ledger's entity kind: person | appointment | task | note
    std::string_view collection;   // the CRM API's collection: people | appointments | tasks | notes
    Action action = Action::updated;
};

// Rollout's `<entity>Created|Updated|Deleted` for the four entities that can concern our records; nullopt else.
std::optional<EntityEvent> entity_event(std::string_view event);
// The delivery's resourceIds (a JSON array, checked on receipt) as strings, without repeats, in order.
std::vector<std::string> resource_ids(std::string_view json_text);
// A non-secret reference to the CRM credential: the start of its keyed fingerprint, never the id itself.
std::string credential_ref(const std::vector<unsigned char>& fingerprint);
// Ledger local ids (rollout/adapters/adapter.hpp, SyncRecord): a buyer id or "tour-<tour>" placeholder for a
// person; "<tour>/<property>" for a visit's appointment or task.
void place(storage::CrmChange& change, std::string_view kind, const std::string& local_id);

// The watched state recorded for a record found deleted: its deletion is reported once.
inline constexpr std::string_view kDeletedState = R"({"deleted":true})";

// One CRM record and every ledger row that maps it. A person can be both a tour's placeholder ("tour-<id>") and,
// after the upgrade in place, the buyer: changes name the buyer, and every row gets the new state.
struct KnownRecord {
    std::string external_id;
    std::string local_id;                          // the row changes are reported for
    std::string state;                             // that row's crm_state
    std::vector<storage::LedgerEntry> rows;        // all rows with this external id
};
std::vector<KnownRecord> group_by_record(const std::vector<storage::LedgerEntry>& entries);

// `text` with every non-empty secret replaced by "[redacted]" (upstream error text may echo what we sent).
std::string scrub(std::string text, std::initializer_list<std::string_view> secrets);
// At most `max` bytes of `text`, never ending inside a UTF-8 sequence (PostgreSQL refuses broken UTF-8).
std::string utf8_prefix(std::string_view text, std::size_t max);

}  // namespace rollout_mcp::hook_mapping
