// A team's configuration as the sync path reads it: the Rollout settings with their opened secrets and every CRM
// connection with its opened credential id, in one storage call, stamped with the team's configuration version.
//
// tenants.config_version goes up, by database trigger, with every insert, update or delete of the team's
// rollout_configs or crm_connections row, and of any other team's connection holding the same credential (it
// moves this team's shared_with_other_team). Key rotation rewrites those rows, so it raises it too. Every API
// key check (AuthenticatedKey) and every sync job claim (ClaimedJob) returns it: a cache of this snapshot
// (server/sync/team_config_cache.hpp) compares versions at no extra storage trip, across instances and processes.
#pragma once

#include "crypto/secret_bytes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rollout_mcp::storage {

struct RolloutConfig {
    std::string settings_json;  // non-secret settings (project env key, base URLs ...)
    crypto::SecretBytes secret; // opened secret (e.g. client secret / auth token), as stored
    crypto::SecretBytes webhook_secret;  // configure_rollout's webhookSecret; empty when none was given
    std::int64_t updated_at = 0;
};

struct CrmConnectionInfo {
    std::string crm_type;
    std::string label;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
};

struct CrmConnection {
    CrmConnectionInfo info;
    crypto::SecretBytes credential_key;  // the Rollout credential id, opened
    bool shared_with_other_team = false; // another team of this server stored the same credential
    std::string unreadable;              // get_team_config only: why credential_key did not open ("" when it did)
};

struct TeamConfigSnapshot {
    // Read before the rows: a change committed between the two reads leaves rows newer than the version, which
    // the next check then finds out of date (never the reverse).
    std::int64_t version = 0;
    // The team existed before markers named the team, so its records may carry team-less ones (tenants.legacy_markers,
    // SQLite migration 15): a marker search also looks for those.
    bool legacy_markers = true;
    std::optional<RolloutConfig> rollout;     // nullopt: configure_rollout was not called
    std::string rollout_unreadable;           // why `rollout` did not open ("" when it did; then it has no secrets)
    // Ordered by crm_type. A connection whose credential id does not open is listed with `unreadable` set, so one
    // damaged row stops that CRM alone, as reading it by itself would.
    std::vector<CrmConnection> connections;
};

}  // namespace rollout_mcp::storage
