// The PostgreSQL engine behind storage/sql.hpp: one libpq connection, used synchronously on the storage
// executor's thread (never an I/O thread), reconnected on the next call after it breaks.
//
// Statements are sent with PQexecParams: parameters typed (int8, text, binary bytea), results as text. SQL
// written with SQLite's ?N parameters is rewritten to $N. Transactions are read committed; what must not
// interleave across instances takes a transaction advisory lock (lock_for_transaction).
#pragma once

#include "storage/sql.hpp"

#include <memory>
#include <string>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace rollout_mcp::storage {

class PgDatabase final : public Database {
public:
    // Connects to `url` (a libpq URI or keyword/value string; the password, if any, from PGPASSFILE, PGPASSWORD
    // or the URL itself). Throws SqlError (kind connection) with libpq's message, which never repeats the URL.
    static std::unique_ptr<PgDatabase> connect(const std::string& url);
    ~PgDatabase() override;

    Dialect dialect() const noexcept override { return Dialect::postgresql; }
    const std::string& description() const noexcept override { return description_; }
    void exec(const char* sql) override;
    Statement prepare(std::string_view sql) override;
    std::int64_t changes() const noexcept override { return changes_; }
    void begin() override;
    void commit() override;
    void begin_unsynced() override;   // BEGIN, then SET LOCAL synchronous_commit TO OFF
    void rollback() noexcept override;
    void lock_for_transaction(std::string_view scope) override;

    // For PgStatement: the live connection (reconnected first when the last one broke outside a transaction).
    PGconn* connection();
    void record_changes(const PGresult* result) noexcept;   // after each statement: rows it changed

private:
    PgDatabase(PGconn* conn, std::string url);
    PGconn* conn_;
    std::string url_;
    std::string description_ = "the PostgreSQL database";
    std::int64_t changes_ = 0;
    bool in_transaction_ = false;
};

// A configured libpq connection (hex bytea, UTC, UTF-8, bounded waits); the caller owns it (PQfinish). Throws
// SqlError (kind connection) with libpq's message, which never repeats the URL.
PGconn* open_pg_connection(const std::string& url);

// The ?N -> $N rewrite (outside quoted strings and identifiers), exposed for tests.
std::string postgres_parameters(std::string_view sqlite_text);

}  // namespace rollout_mcp::storage
