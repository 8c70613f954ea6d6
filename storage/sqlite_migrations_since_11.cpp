// The SQLite schema's migrations from version 11 on (storage/migrations.hpp): sqlite_migrations() is
// sqlite_migrations.cpp's versions 1-10 followed by these. One file would pass the 400-line cap.
#include "storage/migrations.hpp"

namespace rollout_mcp::storage {
namespace {

// Append new migrations here; never edit one that has shipped. The rules of sqlite_migrations.cpp hold (no JSON
// functions in the schema: the connection runs with trusted_schema=OFF).
constexpr Migration kMigrations[] = {
    {11, "processing Rollout webhook deliveries: inbox claims and outcomes, the ledger's last-known CRM state", R"sql(
-- A processor leases a row until claimed_until under a new claim_token (storage/sql_hook_inbox.cpp: one instance
-- at a time, and a crash loses nothing: the lease expires). attempts counts failed tries; outcome is set with
-- processed_at: 'processed', 'ignored' or 'dropped: <reason>'.
ALTER TABLE hook_inbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hook_inbox ADD COLUMN claim_token   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hook_inbox ADD COLUMN attempts      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hook_inbox ADD COLUMN outcome       TEXT;
ALTER TABLE hook_inbox ADD COLUMN last_error    TEXT;
-- The claim reads pending rows whose lease expired, oldest first; retention reads processed rows by age.
CREATE INDEX hook_inbox_claimable ON hook_inbox(claimed_until, id) WHERE processed_at IS NULL;
CREATE INDEX hook_inbox_processed ON hook_inbox(processed_at);
-- The watched fields of the CRM record as we last wrote or saw it (a JSON object's text; NULL: unknown), and
-- the lookup of a webhook's records by their CRM ids.
ALTER TABLE sync_ledger ADD COLUMN crm_state TEXT;
CREATE INDEX sync_ledger_external ON sync_ledger(tenant_id, crm_type, entity_kind, external_id);
)sql"},
    {12, "webhook subscription state, reconcile leases per CRM connection, the ledger's polling order", R"sql(
-- Set when every webhook subscription for this route was made at Rollout (storage/sql_hook_polls.cpp). A new
-- route replaces the row (issue_hook_route), so it starts unsubscribed.
ALTER TABLE hook_routes ADD COLUMN subscribed_at INTEGER;
-- The reconcile loop's lease on a connection (one instance at a time retries its subscriptions). It has its own
-- row, not columns on hook_routes: a connection may have no route yet (configured before public_url was set), and
-- an attempt replaces the route row while it runs, which would drop a lease kept there. Nor on crm_connections,
-- the sealed-credential table that key rotation rewrites. Made on a connection's first claim, gone with it.
CREATE TABLE hook_reconcile (
  tenant_id              TEXT    NOT NULL,
  crm_type               TEXT    NOT NULL,
  reconcile_until        INTEGER NOT NULL DEFAULT 0,
  reconcile_attempted_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, crm_type),
  FOREIGN KEY (tenant_id, crm_type) REFERENCES crm_connections(tenant_id, crm_type) ON DELETE CASCADE
) STRICT;
-- When a polling round last handed the row to the webhook processor (0: never); the round reads a connection's
-- least recently checked rows in index order and stops at its limit.
ALTER TABLE sync_ledger ADD COLUMN checked_at INTEGER NOT NULL DEFAULT 0;
-- Partial: rows that are never polled (tours, feedback, bindings, notes) would otherwise lead every scan.
CREATE INDEX sync_ledger_checked ON sync_ledger(tenant_id, crm_type, checked_at, entity_kind, local_id)
  WHERE entity_kind IN ('person', 'appointment', 'task') AND external_id <> '';
)sql"},
    {13, "the ledger's CRM state as the CRM answered our last write (per-field conflicts)", R"sql(
-- The watched fields as the CRM answered our last write (a JSON object's text; NULL: unknown). Only a sync
-- attempt's upsert sets it; webhook processing moves crm_state alone, so a field where the two differ was changed
-- in the CRM since our write, and a later update keeps the CRM's value (README, "Changes from the CRM").
ALTER TABLE sync_ledger ADD COLUMN written_state TEXT;
)sql"},
    {14, "a configuration version per team, raised by every change to its Rollout settings or CRM connections", R"sql(
-- Read with every API key check and every sync job claim, so that an instance's cache of opened team settings
-- (server/sync/team_config_cache.hpp) notices a change made by another instance or process before it next uses
-- them. Triggers, not repository code: every writer (configure, remove, key rotation, the admin CLI, an older
-- version of this server) raises it. A connection's "shared with another team" flag depends on the other teams
-- holding the same credential, so a connection change raises theirs too.
ALTER TABLE tenants ADD COLUMN config_version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER rollout_configs_version_insert AFTER INSERT ON rollout_configs BEGIN
  UPDATE tenants SET config_version = config_version + 1 WHERE id = NEW.tenant_id;
END;
CREATE TRIGGER rollout_configs_version_update AFTER UPDATE ON rollout_configs BEGIN
  UPDATE tenants SET config_version = config_version + 1 WHERE id IN (OLD.tenant_id, NEW.tenant_id);
END;
CREATE TRIGGER rollout_configs_version_delete AFTER DELETE ON rollout_configs BEGIN
  UPDATE tenants SET config_version = config_version + 1 WHERE id = OLD.tenant_id;
END;
CREATE TRIGGER crm_connections_version_insert AFTER INSERT ON crm_connections BEGIN
  UPDATE tenants SET config_version = config_version + 1 WHERE id = NEW.tenant_id
    OR id IN (SELECT tenant_id FROM crm_connections WHERE credential_fingerprint = NEW.credential_fingerprint);
END;
CREATE TRIGGER crm_connections_version_update AFTER UPDATE ON crm_connections BEGIN
  UPDATE tenants SET config_version = config_version + 1 WHERE id IN (OLD.tenant_id, NEW.tenant_id)
    OR id IN (SELECT tenant_id FROM crm_connections
              WHERE credential_fingerprint IN (OLD.credential_fingerprint, NEW.credential_fingerprint));
END;
CREATE TRIGGER crm_connections_version_delete AFTER DELETE ON crm_connections BEGIN
  UPDATE tenants SET config_version = config_version + 1 WHERE id = OLD.tenant_id
    OR id IN (SELECT tenant_id FROM crm_connections WHERE credential_fingerprint = OLD.credential_fingerprint);
END;
)sql"},
    {15, "which teams may have records with markers that do not name the team", R"sql(
-- Records written before markers named the team carry the team-less marker ("reanna:buyer:<id>"), so finding a
-- buyer by marker also searches that one: an extra Rollout call per new buyer. Teams that exist when this runs may
-- have such records and keep the search (1); a team created later never wrote one (0), and a team-less marker it
-- finds is some other, older team's (docs/ARCHITECTURE.md "Buyer identity"). The sync path caches the flag with the
-- team's settings, so changing it raises config_version like any other configuration change (migration 14).
ALTER TABLE tenants ADD COLUMN legacy_markers INTEGER NOT NULL DEFAULT 0 CHECK (legacy_markers IN (0, 1));
UPDATE tenants SET legacy_markers = 1;
CREATE TRIGGER tenants_legacy_markers_version AFTER UPDATE OF legacy_markers ON tenants
  WHEN OLD.legacy_markers IS NOT NEW.legacy_markers BEGIN
  UPDATE tenants SET config_version = config_version + 1 WHERE id = NEW.id;
END;
)sql"},
    {16, "fewer sync_jobs indexes: every accepted tour writes each of them, most only for the admin CLI", R"sql(
-- A new job wrote 12 b-trees (the table, its primary key and ten indexes) and each status change 5; now 7, then
-- 3 or 4 (README "Sync path CPU"). Gone: batch_id (no query looks a batch up by it), (tenant_id, created_at) (a
-- team's jobs in time order, for the admin CLI alone), and (tenant_id, status) and (tenant_id, crm_type, status),
-- which (tenant_id, status, next_attempt_at) serves, together with the enqueue's check for a team's due jobs. The
-- finished index holds finished jobs only, and the key index only the old rows that carry their own sealed
-- payload: new jobs never enter either until they end, or at all.
DROP INDEX sync_jobs_batch;
DROP INDEX sync_jobs_tenant;
DROP INDEX sync_jobs_live;
DROP INDEX sync_jobs_tenant_status;
DROP INDEX sync_jobs_finished;
DROP INDEX sync_jobs_key;
CREATE INDEX sync_jobs_tenant_due ON sync_jobs(tenant_id, status, next_attempt_at);
CREATE INDEX sync_jobs_finished ON sync_jobs(status, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX sync_jobs_key ON sync_jobs(key_id) WHERE key_id IS NOT NULL;
)sql"},
    {17, "the ledger keyed by local id first: one b-tree fewer for every ledger row a sync writes", R"sql(
-- Every lookup of the ledger names a local id (a sync's ids, a webhook's record, a visit prefix) or a CRM id;
-- keyed (tenant, CRM, local id, kind), the primary key serves the lookups by local id that sync_ledger_local did,
-- and each row a sync attempt writes updates one index fewer (README "Sync path CPU"). SQLite cannot change a
-- primary key in place: the table is rebuilt, its rows copied.
CREATE TABLE sync_ledger_v17 (
  tenant_id     TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  crm_type      TEXT    NOT NULL,
  entity_kind   TEXT    NOT NULL,
  local_id      TEXT    NOT NULL,
  external_id   TEXT    NOT NULL,
  payload_hash  BLOB,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  crm_state     TEXT,
  checked_at    INTEGER NOT NULL DEFAULT 0,
  written_state TEXT,
  PRIMARY KEY (tenant_id, crm_type, local_id, entity_kind)
) STRICT;
INSERT INTO sync_ledger_v17 (tenant_id, crm_type, entity_kind, local_id, external_id, payload_hash, created_at,
  updated_at, crm_state, checked_at, written_state)
SELECT tenant_id, crm_type, entity_kind, local_id, external_id, payload_hash, created_at, updated_at, crm_state,
  checked_at, written_state
FROM sync_ledger;
DROP TABLE sync_ledger;
ALTER TABLE sync_ledger_v17 RENAME TO sync_ledger;
CREATE INDEX sync_ledger_external ON sync_ledger(tenant_id, crm_type, entity_kind, external_id);
CREATE INDEX sync_ledger_checked ON sync_ledger(tenant_id, crm_type, checked_at, entity_kind, local_id)
  WHERE entity_kind IN ('person', 'appointment', 'task') AND external_id <> '';
)sql"},
};

}  // namespace

std::span<const Migration> sqlite_migrations_since_11() { return kMigrations; }

}  // namespace rollout_mcp::storage
