// Rollout webhooks in (issue 20; docs/ARCHITECTURE.md, "Webhooks in"): the routes deliveries arrive on, the
// durable inbox that keeps them (storage/sql_hooks.cpp), and what processing an inbox row claims, reads and
// records (storage/sql_hook_inbox.cpp): one instance at a time per row (a lease and a fencing token), its changes,
// the ledger's last-known CRM state and the row's outcome committed together; whether a connection's webhook
// subscriptions are in place, the reconcile loop's leases on those that are not, and the polling fallback that
// enqueues synthetic inbox rows for them (storage/sql_hook_polls.cpp). Plain data, and the documentation of the
// Storage calls on it (declared in storage/storage.hpp, which includes this file; kept here for its 400-line cap).
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

// A team's CRM connection, as the reconcile loop claims it.
struct HookConnectionRef {
    std::string tenant_id, crm_type;
};

// What the Storage calls do. Times are Unix milliseconds, passed in so tests control them.
//
// Routes (sql_hooks.cpp). issue_hook_route: a new random route (32 bytes, base64url) for the team's connection to
// `crm_type`, replacing any earlier one (the new one starts unsubscribed); returned this once. find_hook_route: the
// route's connection, not_found for an unknown route and for one whose connection was removed or now holds another
// credential. record_hook_delivery: the delivery into the inbox in one committed transaction; false when the same
// (team, credential, eventId) is already there (no new row). list_hook_inbox: a team's rows, oldest first.
//
// Processing the inbox (sql_hook_inbox.cpp). claim_hook_events: up to `limit` unprocessed rows whose lease expired
// (claimed_until <= now_ms), oldest id first, each leased until now_ms + lease_ms under a new claim token; on
// PostgreSQL two instances claiming at once never get one row (SKIP LOCKED). A row whose CRM connection is gone or
// holds another credential is not handed out: it is marked processed, "dropped: the CRM connection changed".
// finish_hook_event, in ONE transaction: appends result.changes to the row's tenant's change log (as
// append_crm_change does; an empty crm_type is the row's), sets sync_ledger.crm_state for result.states (the row's
// tenant and CRM; missing ledger rows are skipped), marks the row processed (processed_at = now_ms, outcome).
// NOTHING is written when the claim was lost (token replaced, or already processed: claim_lost) or a ledger row's
// crm_state (NULL read as "") is not its update's expected_state (state_moved: re-read and try again).
// retry_hook_event: the claim ends; claimable again at retry_at_ms, attempts + 1, last_error = error (no secrets; at
// most 1,000 bytes). false when the claim was lost. release_interrupted_hook_claims, at start-up: SQLite (one process
// per file, so every claim still held is a previous process's) makes the rows claimed and never finished or given
// back claimable now, under a new token, without counting an attempt, as requeue_interrupted_sync_jobs does for
// jobs; PostgreSQL releases nothing (a claim may be another live instance's; it lapses with its lease).
// A claim moves claim_token to the next odd number (a lapsed claim's included) and a give-back adds one, so an
// unprocessed row's token is odd exactly while it is claimed and not given back (held while claimed_until > now).
// ledger_by_external_ids (sql_ledger.cpp): ledger rows of one
// tenant, CRM and entity kind whose external id is one of `external_ids` (at most 1,000). trim_hook_inbox: one
// bounded step (at most max_rows, one transaction) deleting rows processed before before_ms (kept that long to
// deduplicate Rollout's redeliveries); returns how many went. pending_hook_events: unprocessed rows of all teams.
//
// Subscriptions and polling (sql_hook_polls.cpp). A connection is subscribed when its route's subscriptions were all
// made (set_hook_subscribed true) and the connection still holds the credential the route was issued for.
// set_hook_subscribed: after every subscription POST for the connection's current route succeeded (true), or one
// failed (false); true without a route is not_found, false without one changes nothing.
// claim_unsubscribed_connections: connections not subscribed whose reconcile lease expired, at most `limit`, least
// recently attempted first, each leased until now_ms + lease_ms (one instance attempts a connection at a time; the
// lease also spaces its retries). Connections whose credential cannot be read (no fingerprint) are left out.
// claim_subscribed_connections: the same for subscribed connections, whose subscriptions the reconcile loop checks at
// Rollout (one instance per connection per lease; the lease is the time until the next check, and the first check
// comes when the lease of the round that subscribed the connection ends).
// enqueue_ledger_polls: one polling round. For every connection not subscribed (every connection when
// `all_connections`), its ledger rows of kind person, appointment and task with an external id, least recently
// checked first and not checked within min_interval_ms (> 0), at most `per_tenant` (1 to 1,000) per team spread
// round-robin over its connections, are marked checked and handed to the webhook processor as synthetic deliveries:
// one inbox row per (connection, kind), event "<collection>Updated", resourceIds their external ids, eventId "poll:"
// and a random suffix, under the connection's credential; one transaction per team. On PostgreSQL concurrent rounds
// skip each other's rows (SKIP LOCKED), so a row is handed out once per round. With budget_window_ms > 0 the team's
// rows already checked within that window (by any instance) count against per_tenant, so the budget holds across
// instances, not per instance. Returns how many inbox rows went in.
// hook_subscribed: nullopt when the team has no such connection. hook_subscription_counts: connections subscribed,
// and connections not subscribed, of all teams.

}  // namespace rollout_mcp::storage
