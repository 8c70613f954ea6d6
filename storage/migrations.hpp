// Numbered schema migrations embedded in the binary, one list per engine (sqlite_migrations.cpp,
// postgres_migrations.cpp), applied in one transaction at start-up.
#pragma once

#include "storage/sql.hpp"
#include "storage/storage.hpp"

#include <span>
#include <stdexcept>

namespace rollout_mcp::storage {

struct Migration {
    int version;
    const char* name;
    const char* sql;
};

// Start-up failure: a database written by a newer binary, or a migration that did not apply.
class SchemaError : public StorageStartupError {
public:
    using StorageStartupError::StorageStartupError;
};

std::span<const Migration> sqlite_migrations();
// sqlite_migrations()'s versions from 11 on, kept in a file of their own (sqlite_migrations_since_11.cpp).
std::span<const Migration> sqlite_migrations_since_11();
std::span<const Migration> postgres_migrations();
// postgres_migrations()'s versions from 11 on (postgres_migrations_since_11.cpp).
std::span<const Migration> postgres_migrations_since_11();
std::span<const Migration> migrations(Dialect dialect);
int latest_schema_version(Dialect dialect = Dialect::sqlite);

// Creates schema_migrations if needed and applies every missing migration inside one transaction (all or
// nothing). On PostgreSQL the transaction first takes an advisory lock, so instances starting together migrate
// once: the others wait, then find nothing left to apply. Refuses a database whose version is newer than this
// binary knows. Returns the number of migrations applied. Throws SchemaError.
int apply_migrations(Database& db);

}  // namespace rollout_mcp::storage
