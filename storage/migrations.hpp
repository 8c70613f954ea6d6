// Numbered schema migrations embedded in the binary, applied in one transaction at start-up.
#pragma once

#include "storage/sqlite.hpp"
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

std::span<const Migration> migrations();
int latest_schema_version();

// Creates schema_migrations if needed and applies every missing migration inside one IMMEDIATE
// transaction (all or nothing). Refuses a database whose version is newer than this binary knows.
// Returns the number of migrations applied. Throws SchemaError.
int apply_migrations(Database& db);

}  // namespace rollout_mcp::storage
