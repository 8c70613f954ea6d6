// Rollout webhooks in (issue 20; docs/ARCHITECTURE.md, "Webhooks in"): the routes deliveries arrive on, the
// durable inbox that keeps them (storage/sql_hooks.cpp), and what processing an inbox row claims, reads and
// records (storage/sql_hook_inbox.cpp): one instance at a time per row (a lease and a fencing token), its changes,
// the ledger's last-known CRM state and the row's outcome committed together. Plain data; kept apart from
// storage/storage.hpp only to keep that file under the 400-line cap (storage.hpp includes it).
#pragma once

#include "storage/crm_changes.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace rollout_mcp::storage {

// A route is one unguessable URL segment per (team, CRM connection); only a keyed hash of it is stored. It names
// the connection and the credential it was issued for.
struct HookRoute {
    std::string tenant_id;
    std::string crm_type;
    std::vector<unsigned char> credential_fingerprint;   // of the credential the route was issued for
};

// One verified delivery, as the durable inbox keeps it.
struct HookDelivery {
    std::string event_id;            // Rollout's eventId: deduplicated per (team, credential)
    std::string event;               // e.g. "appointmentsUpdated"
    std::string event_created;       // as Rollout wrote it (ISO-8601)
    std::string resource_ids_json;   // a JSON array of strings
};

struct HookInboxRow {
    std::int64_t id = 0;
    std::string crm_type;
    HookDelivery delivery;
    std::int64_t received_at = 0;    // Unix milliseconds
};

// An inbox row leased to one processor: until its lease passes or another claim replaces its token, its finish or
// retry counts.
struct ClaimedHookEvent {
    HookInboxRow row;                                  // id, crm_type, delivery, received_at
    std::string tenant_id;
    std::vector<unsigned char> credential_fingerprint;
    std::int64_t attempts = 0;                         // failed attempts before this claim
    std::int64_t claim_token = 0;                      // fences finish/retry: a newer claim replaces this one
};

struct LedgerStateUpdate {                             // sync_ledger.crm_state of (tenant, crm, kind, local id)
    std::string entity_kind, local_id;
    std::string expected_state;                        // what the processor read ("" = NULL): compare-and-set
    std::string crm_state;                             // the new value
};

struct FinishedHookEvent {
    enum class Status { done, claim_lost, state_moved } status = Status::done;
    std::vector<CrmChange> changes;                    // done: as appended (seq, id, recorded_at set)
};

struct HookEventResult {
    std::vector<CrmChange> changes;                    // appended in order (seq/id/recorded_at set by storage)
    std::vector<LedgerStateUpdate> states;             // applied in the same transaction
    std::string outcome = "processed";                 // "processed" | "ignored" | "dropped: <reason>"
};

}  // namespace rollout_mcp::storage
