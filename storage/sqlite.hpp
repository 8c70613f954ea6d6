// The SQLite engine behind storage/sql.hpp: one connection opened with the pragmas this service relies on
// (WAL, synchronous=FULL, foreign keys, secure_delete), prepared statements, IMMEDIATE write transactions.
#pragma once

#include "storage/sql.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <memory>

namespace rollout_mcp::storage {

class SqliteDatabase final : public Database {
public:
    // Creates the file with mode 0600 if missing (and its directory, 0700, if missing), tightens an existing file
    // (and -wal/-shm) to 0600, then sets WAL, synchronous=FULL, foreign_keys, secure_delete, busy_timeout.
    // Throws SqlError or std::runtime_error: opening is a start-up step.
    static std::unique_ptr<SqliteDatabase> open(const std::filesystem::path& path);
    ~SqliteDatabase() override;

    const std::filesystem::path& path() const noexcept { return path_; }
    Dialect dialect() const noexcept override { return Dialect::sqlite; }
    const std::string& description() const noexcept override { return description_; }
    void exec(const char* sql) override;
    Statement prepare(std::string_view sql) override;
    std::int64_t changes() const noexcept override { return sqlite3_changes64(db_); }
    void begin() override { exec("BEGIN IMMEDIATE"); }
    void begin_unsynced() override;   // synchronous=NORMAL until the transaction ends (WAL: no fsync at commit)
    void commit() override;
    void rollback() noexcept override;
    void lock_for_transaction(std::string_view) override {}   // BEGIN IMMEDIATE already holds the write lock

private:
    void restore_synced() noexcept;
    bool unsynced_ = false;
    SqliteDatabase(sqlite3* db, std::filesystem::path path)
        : db_(db), path_(std::move(path)), description_(path_.string()) {}
    sqlite3* db_;
    std::filesystem::path path_;
    std::string description_;
};

}  // namespace rollout_mcp::storage
