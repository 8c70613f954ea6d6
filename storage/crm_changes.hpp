// The CRM change log and MCP Events webhook subscriptions (README, "Changes from the CRM"): what changed in a
// team's CRM about records we synced (a showing rescheduled, a buyer's contact edited ...), numbered per team so a
// client can read it from a cursor, and the durable webhook subscriptions that deliver it. Plain data; SqlStorage
// (storage/sql_changes.cpp, storage/sql_event_subscriptions.cpp) keeps it.
#pragma once

#include "crypto/secret_bytes.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::storage {

// The change kinds, as stored and as clients see them (the CHECK in migration 10 / PostgreSQL 5 lists them too).
inline constexpr std::array<std::string_view, 5> kCrmChangeKinds = {
    "showing_rescheduled", "showing_cancelled", "showing_completed", "buyer_updated", "agent_note_added"};
bool valid_crm_change_kind(std::string_view kind);

struct CrmChange {
    std::int64_t seq = 0;        // per team, from 1, strictly increasing in commit order; set by append
    std::string id;              // "chg_" + 24 hex; set by append
    std::string kind;            // one of kCrmChangeKinds
    std::string tour_id;         // our local ids (rollout/model.cpp): the tour, the visit "<tour>/<property>",
    std::string visit_id;        // the buyer; "" when the change has none
    std::string buyer_id;
    std::string fields_json = "{}";   // a JSON object: what changed (new time, outcome, contact fields, note ...)
    std::string crm_type;        // canonical CRM type
    std::string credential_ref;  // a non-secret reference to the CRM credential (never the credential id)
    std::string record_id;       // the CRM's id of the record that changed
    std::int64_t occurred_at_ms = 0;   // when the CRM says it happened
    std::int64_t recorded_at_ms = 0;   // when we appended it; set by append
};

// One read of a team's log after a cursor.
struct CrmChangePage {
    std::vector<CrmChange> changes;   // in seq order
    std::int64_t cursor = 0;          // the last returned seq, or the cursor given (or the start) when none
    std::int64_t head = 0;            // the team's last seq at the time of the read
    bool truncated = false;           // changes after the given cursor were trimmed before this read
};

// An events/subscribe webhook subscription (the secret is sealed in the database and opened only for delivery).
struct EventSubscription {
    std::string id;
    std::string tenant_id;
    std::string name;                 // the event name
    std::string callback_url;
    std::int64_t created_at_ms = 0;
    std::int64_t expires_at_ms = 0;
    bool verified = false;            // the callback answered the verification challenge
    std::int64_t delivered_through = 0;   // change-log seq delivered (or given up) so far
    std::int64_t attempts = 0;        // failed attempts at the current event (or the challenge)
    std::int64_t next_attempt_at_ms = 0;
};

// A subscription claimed for delivery by one worker: until lease_until, or until another claim's token
// replaces this one, its writes (advance, retry, drop) count.
struct ClaimedSubscription {
    EventSubscription subscription;
    crypto::SecretBytes secret;       // the decoded whsec_ key
    std::int64_t claim_token = 0;
};

// What a delivery round records (under the claim's token): the new cursor, verification, and when to try again.
struct DeliveryProgress {
    std::int64_t delivered_through = 0;
    bool verified = false;
    std::int64_t attempts = 0;
    std::int64_t next_attempt_at_ms = 0;
};

}  // namespace rollout_mcp::storage
