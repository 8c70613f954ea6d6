// The SQLite schema's numbered migrations (storage/migrations.hpp): versions 1-10 here, the later ones in
// sqlite_migrations_since_11.cpp (append new ones there).
#include "storage/migrations.hpp"

#include <vector>

namespace rollout_mcp::storage {
namespace {

// Never edit a migration that has shipped. No json_valid() in CHECK constraints: the connection runs with
// trusted_schema=OFF, under which SQLite 3.40 refuses JSON functions in the schema.
constexpr Migration kMigrations[] = {
    {1, "tenants, api keys, envelope keys, sealed credentials, sync outbox and ledger", R"sql(
CREATE TABLE tenants (
  id         TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  name       TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
  created_at INTEGER NOT NULL
) STRICT;

-- Identifies the master key (keyed hash of a constant); one row.
CREATE TABLE master_key_check (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  check_value BLOB    NOT NULL CHECK (length(check_value) = 32),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

-- Random data keys, wrapped by the master key. Exactly one is active (seals); retired keys only open.
CREATE TABLE data_keys (
  key_id     INTEGER PRIMARY KEY CHECK (key_id > 0),
  nonce      BLOB    NOT NULL CHECK (length(nonce) = 24),
  wrapped    BLOB    NOT NULL CHECK (length(wrapped) = 48),
  state      TEXT    NOT NULL CHECK (state IN ('active', 'retired')),
  created_at INTEGER NOT NULL,
  retired_at INTEGER
) STRICT;
CREATE UNIQUE INDEX data_keys_one_active ON data_keys(state) WHERE state = 'active';

-- Root of the API-key hashing key, wrapped by the master key; one row.
CREATE TABLE api_key_root (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  nonce      BLOB    NOT NULL CHECK (length(nonce) = 24),
  wrapped    BLOB    NOT NULL CHECK (length(wrapped) = 48),
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
  id           INTEGER PRIMARY KEY,
  tenant_id    TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  prefix       TEXT    NOT NULL UNIQUE CHECK (length(prefix) = 8),
  hash         BLOB    NOT NULL CHECK (length(hash) = 32),
  created_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  last_used_at INTEGER
) STRICT;
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE rollout_configs (
  tenant_id  TEXT    PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  settings   TEXT    NOT NULL,  -- JSON, validated on write
  key_id     INTEGER NOT NULL REFERENCES data_keys(key_id),
  nonce      BLOB    NOT NULL CHECK (length(nonce) = 24),
  ciphertext BLOB    NOT NULL CHECK (length(ciphertext) >= 16),
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX rollout_configs_key ON rollout_configs(key_id);

CREATE TABLE crm_connections (
  tenant_id  TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  crm_type   TEXT    NOT NULL CHECK (length(crm_type) BETWEEN 1 AND 64),
  label      TEXT    NOT NULL DEFAULT '',
  key_id     INTEGER NOT NULL REFERENCES data_keys(key_id),
  nonce      BLOB    NOT NULL CHECK (length(nonce) = 24),
  ciphertext BLOB    NOT NULL CHECK (length(ciphertext) >= 16),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, crm_type)
) STRICT;
CREATE INDEX crm_connections_key ON crm_connections(key_id);

-- The durable outbox (docs/ARCHITECTURE.md, "The outbox state machine"); filled by the sync work.
CREATE TABLE sync_jobs (
  id              TEXT    PRIMARY KEY,
  tenant_id       TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  kind            TEXT    NOT NULL,
  crm_type        TEXT    NOT NULL,
  payload         TEXT    NOT NULL,  -- JSON, validated on write
  status          TEXT    NOT NULL CHECK (status IN ('pending', 'in_flight', 'done', 'failed', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  idempotency_key TEXT    NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (tenant_id, idempotency_key)
) STRICT;
-- (status, next_attempt_at) also serves expired leases and pending alerts: few rows are running or dead.
CREATE INDEX sync_jobs_due ON sync_jobs(status, next_attempt_at);
CREATE INDEX sync_jobs_tenant ON sync_jobs(tenant_id, created_at);

-- Local id -> CRM id, so a retried sync updates instead of creating a duplicate.
CREATE TABLE sync_ledger (
  tenant_id    TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  crm_type     TEXT    NOT NULL,
  entity_kind  TEXT    NOT NULL,
  local_id     TEXT    NOT NULL,
  external_id  TEXT    NOT NULL,
  payload_hash BLOB,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, crm_type, entity_kind, local_id)
) STRICT;
)sql"},
    {2, "sync outbox: sealed job payloads, leases, alerts and idempotent requests", R"sql(
-- Version 1's sync_jobs was never written to; the outbox (docs/ARCHITECTURE.md) replaces it.
DROP TABLE sync_jobs;

-- One row per job; payload sealed under a data key with the row identity (tenant, 'sync_job', id).
-- Times are Unix milliseconds (the outbox's clock is passed in by the caller).
CREATE TABLE sync_jobs (
  id               TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),  -- 'job_' + 24 hex
  tenant_id        TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  batch_id         TEXT    NOT NULL,  -- the enqueue call that wrote it
  kind             TEXT    NOT NULL CHECK (kind IN ('tour', 'feedback')),
  crm_type         TEXT    NOT NULL CHECK (length(crm_type) BETWEEN 1 AND 64),
  subject          TEXT    NOT NULL CHECK (length(subject) >= 1),
  tour_id          TEXT    NOT NULL,
  lock_key         TEXT    NOT NULL CHECK (length(lock_key) >= 1),
  key_id           INTEGER NOT NULL REFERENCES data_keys(key_id),
  nonce            BLOB    NOT NULL CHECK (length(nonce) = 24),
  ciphertext       BLOB    NOT NULL CHECK (length(ciphertext) >= 16),
  status           TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
  attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  INTEGER NOT NULL,
  lease_until      INTEGER,           -- set while running
  recover          INTEGER NOT NULL DEFAULT 0 CHECK (recover IN (0, 1)),
  last_error       TEXT    NOT NULL DEFAULT '',
  last_http_status INTEGER NOT NULL DEFAULT 0,
  result           TEXT    NOT NULL DEFAULT '',  -- JSON array of the last attempt's records
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  finished_at      INTEGER,
  alert_pending    INTEGER NOT NULL DEFAULT 0 CHECK (alert_pending IN (0, 1)),
  alert_attempts   INTEGER NOT NULL DEFAULT 0,
  alert_next_at    INTEGER NOT NULL DEFAULT 0
) STRICT;
-- (status, next_attempt_at) also serves expired leases and pending alerts: few rows are running or dead.
CREATE INDEX sync_jobs_due ON sync_jobs(status, next_attempt_at);
CREATE INDEX sync_jobs_tenant ON sync_jobs(tenant_id, created_at);
CREATE INDEX sync_jobs_tour ON sync_jobs(tenant_id, tour_id);
CREATE INDEX sync_jobs_subject ON sync_jobs(tenant_id, subject);
CREATE INDEX sync_jobs_batch ON sync_jobs(batch_id);
CREATE INDEX sync_jobs_key ON sync_jobs(key_id);

-- Idempotency keys: the first call's argument hash and job ids (a JSON array, so a replay answers
-- with every id in order even after some of those jobs were purged).
CREATE TABLE sync_requests (
  tenant_id       TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  idempotency_key TEXT    NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  args_hash       BLOB    NOT NULL CHECK (length(args_hash) = 32),
  batch_id        TEXT    NOT NULL,
  job_ids         TEXT    NOT NULL,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, idempotency_key)
) STRICT;

-- sync_ledger (version 1) is kept; the outbox writes its times in milliseconds. Lookups go by local
-- id across entity kinds, which the primary key's column order cannot serve.
CREATE INDEX sync_ledger_local ON sync_ledger(tenant_id, crm_type, local_id);
)sql"},
    {3, "shared sync payloads, per-tenant job counts, tombstones of purged jobs", R"sql(
-- One sealed payload per accepted call, shared by that call's per-CRM jobs (a call targeting many
-- CRMs used to write its payload once per job). Sealed with the row identity (tenant, 'sync_payload', id).
CREATE TABLE sync_payloads (
  id         TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),  -- 'pay_' + 24 hex
  tenant_id  TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key_id     INTEGER NOT NULL REFERENCES data_keys(key_id),
  nonce      BLOB    NOT NULL CHECK (length(nonce) = 24),
  ciphertext BLOB    NOT NULL CHECK (length(ciphertext) >= 16),
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sync_payloads_key ON sync_payloads(key_id);
CREATE INDEX sync_payloads_tenant ON sync_payloads(tenant_id);

-- sync_jobs rebuilt (SQLite cannot relax NOT NULL in place): a job either references a shared payload
-- (payload_id) or, written before this version, carries its own sealed payload (key_id, nonce, ciphertext).
CREATE TABLE sync_jobs_v3 (
  id               TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  tenant_id        TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  batch_id         TEXT    NOT NULL,
  kind             TEXT    NOT NULL CHECK (kind IN ('tour', 'feedback')),
  crm_type         TEXT    NOT NULL CHECK (length(crm_type) BETWEEN 1 AND 64),
  subject          TEXT    NOT NULL CHECK (length(subject) >= 1),
  tour_id          TEXT    NOT NULL,
  lock_key         TEXT    NOT NULL CHECK (length(lock_key) >= 1),
  payload_id       TEXT    REFERENCES sync_payloads(id),
  key_id           INTEGER REFERENCES data_keys(key_id),
  nonce            BLOB    CHECK (nonce IS NULL OR length(nonce) = 24),
  ciphertext       BLOB    CHECK (ciphertext IS NULL OR length(ciphertext) >= 16),
  status           TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
  attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  INTEGER NOT NULL,
  lease_until      INTEGER,
  recover          INTEGER NOT NULL DEFAULT 0 CHECK (recover IN (0, 1)),
  last_error       TEXT    NOT NULL DEFAULT '',
  last_http_status INTEGER NOT NULL DEFAULT 0,
  result           TEXT    NOT NULL DEFAULT '',
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  finished_at      INTEGER,
  alert_pending    INTEGER NOT NULL DEFAULT 0 CHECK (alert_pending IN (0, 1)),
  alert_attempts   INTEGER NOT NULL DEFAULT 0,
  alert_next_at    INTEGER NOT NULL DEFAULT 0,
  CHECK ((payload_id IS NULL) = (key_id IS NOT NULL AND nonce IS NOT NULL AND ciphertext IS NOT NULL))
) STRICT;
INSERT INTO sync_jobs_v3 (id, tenant_id, batch_id, kind, crm_type, subject, tour_id, lock_key, payload_id,
  key_id, nonce, ciphertext, status, attempts, next_attempt_at, lease_until, recover, last_error,
  last_http_status, result, created_at, updated_at, finished_at, alert_pending, alert_attempts, alert_next_at)
SELECT id, tenant_id, batch_id, kind, crm_type, subject, tour_id, lock_key, NULL,
  key_id, nonce, ciphertext, status, attempts, next_attempt_at, lease_until, recover, last_error,
  last_http_status, result, created_at, updated_at, finished_at, alert_pending, alert_attempts, alert_next_at
FROM sync_jobs;
DROP TABLE sync_jobs;
ALTER TABLE sync_jobs_v3 RENAME TO sync_jobs;
CREATE INDEX sync_jobs_due ON sync_jobs(status, next_attempt_at);
CREATE INDEX sync_jobs_tenant ON sync_jobs(tenant_id, created_at);
CREATE INDEX sync_jobs_tour ON sync_jobs(tenant_id, tour_id);
CREATE INDEX sync_jobs_subject ON sync_jobs(tenant_id, subject);
CREATE INDEX sync_jobs_batch ON sync_jobs(batch_id);
CREATE INDEX sync_jobs_key ON sync_jobs(key_id);
CREATE INDEX sync_jobs_payload ON sync_jobs(payload_id);
-- The per-team queue cap counts a tenant's queued and running jobs on every enqueue; retention finds
-- old finished jobs by status and time.
CREATE INDEX sync_jobs_tenant_status ON sync_jobs(tenant_id, status);
CREATE INDEX sync_jobs_finished ON sync_jobs(status, finished_at);
CREATE INDEX sync_requests_created ON sync_requests(created_at);

-- A purged job's id stays answerable (get_sync_status: expired) to its own tenant for a while.
CREATE TABLE sync_job_tombstones (
  id        TEXT    PRIMARY KEY,
  tenant_id TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  purged_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sync_job_tombstones_purged ON sync_job_tombstones(purged_at);
)sql"},
    {4, "automations made by create_automation, by team and name", R"sql(
-- automation_id '' = reserved: Rollout was asked (or is being asked) and its answer is not recorded yet.
CREATE TABLE automations (
  tenant_id     TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  spec_hash     BLOB    NOT NULL CHECK (length(spec_hash) = 32),
  automation_id TEXT    NOT NULL DEFAULT '',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
) STRICT;
)sql"},
    {5, "claim fencing tokens, live-claim look-ups, CRM credential fingerprints", R"sql(
-- Every claim increments claim_token; an attempt finishes only under the token its claim got.
ALTER TABLE sync_jobs ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0;
-- Live claims of one team and CRM, looked up by every claim (a job's tour and lock key must be free).
CREATE INDEX sync_jobs_live ON sync_jobs(tenant_id, crm_type, status);
-- Keyed hash of the credential id (filled on write, and at start-up for rows from before): tells whether
-- another team uses the same CRM account without opening anyone's sealed credential.
ALTER TABLE crm_connections ADD COLUMN credential_fingerprint BLOB;
CREATE INDEX crm_connections_fingerprint ON crm_connections(credential_fingerprint);
)sql"},
    {6, "tasks over sync jobs (MCP Tasks), W3C trace context on jobs", R"sql(
-- A task's state is derived from its jobs; the row holds who owns it, which jobs, and a cancellation request.
CREATE TABLE sync_tasks (
  id               TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 22 AND 64),
  tenant_id        TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  job_ids          TEXT    NOT NULL,
  context          TEXT    NOT NULL,
  created_at       INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  -- Set once the task is seen finished: later retries of its jobs never reopen it.
  final_status     TEXT,
  final_result     TEXT
) STRICT;
CREATE INDEX sync_tasks_created ON sync_tasks(created_at);
-- The accepting call's traceparent / tracestate, sent again on every Rollout call of the job.
ALTER TABLE sync_jobs ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_jobs ADD COLUMN tracestate  TEXT NOT NULL DEFAULT '';
)sql"},
    {7, "2025 MCP sessions shared by instances on one database", R"sql(
-- A session's team and negotiated parameters (storage/mcp_sessions.hpp), keyed by a hash of its id (never the id:
-- a bearer value). Times are Unix milliseconds; idle rows go by last_active_at.
CREATE TABLE mcp_sessions (
  id_hash        BLOB    PRIMARY KEY CHECK (length(id_hash) = 32),
  tenant_id      TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  revision       TEXT    NOT NULL CHECK (length(revision) BETWEEN 1 AND 32),
  log_level      TEXT    NOT NULL CHECK (length(log_level) BETWEEN 1 AND 16),
  created_at     INTEGER NOT NULL,
  last_active_at INTEGER NOT NULL
) STRICT;
CREATE INDEX mcp_sessions_idle ON mcp_sessions(last_active_at);
CREATE INDEX mcp_sessions_tenant ON mcp_sessions(tenant_id);
)sql"},
    {8, "a Rollout request-rate bucket per team (storage/rate_buckets.hpp)", R"sql(
-- Tokens in millionths; refill_at is when `level` was counted (in the future: a 429 pause).
CREATE TABLE rollout_rate_buckets (
  tenant_id  TEXT    PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  level      INTEGER NOT NULL CHECK (level >= 0),
  refill_at  INTEGER NOT NULL,
  last_grant INTEGER NOT NULL DEFAULT 0
) STRICT;
)sql"},
    {9, "Rollout webhooks in: routes (hashed) per CRM connection, and the durable inbox of deliveries", R"sql(
-- One unguessable route per (team, CRM connection), stored only as a keyed hash; it was issued for the
-- credential whose fingerprint it keeps, and stops matching when the connection is removed or re-pointed.
CREATE TABLE hook_routes (
  route_hash             BLOB    PRIMARY KEY CHECK (length(route_hash) = 32),
  tenant_id              TEXT    NOT NULL,
  crm_type               TEXT    NOT NULL,
  credential_fingerprint BLOB    NOT NULL,
  created_at             INTEGER NOT NULL,
  UNIQUE (tenant_id, crm_type),
  FOREIGN KEY (tenant_id, crm_type) REFERENCES crm_connections(tenant_id, crm_type) ON DELETE CASCADE
) STRICT;
-- Verified deliveries, committed before the 2xx; one row per (team, credential, eventId).
CREATE TABLE hook_inbox (
  id                     INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id              TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  crm_type               TEXT    NOT NULL,
  credential_fingerprint BLOB    NOT NULL,
  event_id               TEXT    NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
  event                  TEXT    NOT NULL,
  event_created          TEXT    NOT NULL,
  resource_ids           TEXT    NOT NULL,
  received_at            INTEGER NOT NULL,
  processed_at           INTEGER,
  UNIQUE (tenant_id, credential_fingerprint, event_id)
) STRICT;
CREATE INDEX hook_inbox_pending ON hook_inbox(tenant_id, processed_at, id);
)sql"},
    {10, "the CRM change log (per-team cursor), MCP Events webhook subscriptions", R"sql(
-- One row per team: the last sequence number handed out and the highest one trimmed away. The inserting
-- transaction updates this row, so on PostgreSQL a team's appends commit in sequence order and a reader's
-- cursor never passes a change that commits later (docs/ARCHITECTURE.md, "Changes from the CRM").
CREATE TABLE crm_change_counters (
  tenant_id       TEXT    PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  last_seq        INTEGER NOT NULL DEFAULT 0,
  trimmed_through INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE crm_changes (
  tenant_id      TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  seq            INTEGER NOT NULL CHECK (seq > 0),
  id             TEXT    NOT NULL UNIQUE,
  kind           TEXT    NOT NULL CHECK (kind IN ('showing_rescheduled', 'showing_cancelled', 'showing_completed',
                                                  'buyer_updated', 'agent_note_added')),
  tour_id        TEXT    NOT NULL DEFAULT '',
  visit_id       TEXT    NOT NULL DEFAULT '',
  buyer_id       TEXT    NOT NULL DEFAULT '',
  fields         TEXT    NOT NULL,  -- JSON object, validated on write
  crm_type       TEXT    NOT NULL,
  credential_ref TEXT    NOT NULL DEFAULT '',  -- a non-secret reference to the credential, never its id
  record_id      TEXT    NOT NULL DEFAULT '',
  occurred_at    INTEGER NOT NULL,
  recorded_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, seq)
) STRICT;
CREATE INDEX crm_changes_recorded ON crm_changes(recorded_at);
-- events/subscribe (webhook delivery): the secret is sealed; delivered_through is the change-log cursor.
CREATE TABLE event_subscriptions (
  id                TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 8 AND 64),
  tenant_id         TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name              TEXT    NOT NULL,
  callback_url      TEXT    NOT NULL,
  key_id            INTEGER NOT NULL REFERENCES data_keys(key_id),
  nonce             BLOB    NOT NULL CHECK (length(nonce) = 24),
  ciphertext        BLOB    NOT NULL CHECK (length(ciphertext) >= 16),
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  expires_at        INTEGER NOT NULL,
  verified          INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
  delivered_through INTEGER NOT NULL DEFAULT 0,
  attempts          INTEGER NOT NULL DEFAULT 0,
  next_attempt_at   INTEGER NOT NULL DEFAULT 0,
  lease_until       INTEGER,
  claim_token       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX event_subscriptions_tenant ON event_subscriptions(tenant_id);
CREATE INDEX event_subscriptions_due ON event_subscriptions(next_attempt_at);
)sql"},
};

}  // namespace

std::span<const Migration> sqlite_migrations() {
    static const std::vector<Migration> all = [] {
        std::vector<Migration> list(std::begin(kMigrations), std::end(kMigrations));
        for (const Migration& m : sqlite_migrations_since_11()) list.push_back(m);
        return list;
    }();
    return all;
}

}  // namespace rollout_mcp::storage
