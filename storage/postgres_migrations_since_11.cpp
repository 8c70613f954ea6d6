// The PostgreSQL schema's migrations from version 11 on (storage/migrations.hpp): postgres_migrations() is
// postgres_migrations.cpp's versions 1-10 followed by these. One file would pass the 400-line cap.
#include "storage/migrations.hpp"

namespace rollout_mcp::storage {
namespace {

// Append new migrations here; never edit one that has shipped. The rules of postgres_migrations.cpp hold.
constexpr Migration kMigrations[] = {
    {11, "fewer sync_jobs indexes (SQLite migration 16 says why)", R"sql(
-- Built first (instances still running can read sync_jobs meanwhile), dropped last: DROP INDEX locks the table
-- out until this transaction commits, so that lock is held only for the drops and renames.
CREATE INDEX sync_jobs_tenant_due ON sync_jobs(tenant_id, status, next_attempt_at);
CREATE INDEX sync_jobs_finished_16 ON sync_jobs(status, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX sync_jobs_key_16 ON sync_jobs(key_id) WHERE key_id IS NOT NULL;
DROP INDEX sync_jobs_batch, sync_jobs_tenant, sync_jobs_live, sync_jobs_tenant_status, sync_jobs_finished, sync_jobs_key;
ALTER INDEX sync_jobs_finished_16 RENAME TO sync_jobs_finished;
ALTER INDEX sync_jobs_key_16 RENAME TO sync_jobs_key;
)sql"},
    {12, "the ledger keyed by local id first (SQLite migration 17 says why)", R"sql(
-- The new key's index is built first, then takes over the primary key; sync_ledger_local, which it replaces, goes.
CREATE UNIQUE INDEX sync_ledger_key_17 ON sync_ledger(tenant_id, crm_type, local_id, entity_kind);
ALTER TABLE sync_ledger DROP CONSTRAINT sync_ledger_pkey,
  ADD CONSTRAINT sync_ledger_pkey PRIMARY KEY USING INDEX sync_ledger_key_17;
DROP INDEX sync_ledger_local;
)sql"},
};

}  // namespace

std::span<const Migration> postgres_migrations_since_11() { return kMigrations; }

}  // namespace rollout_mcp::storage
