// Thin RAII layer over the SQLite C API: one Database (connection opened with the pragmas this service
// relies on), prepared Statements with bind/step helpers, and IMMEDIATE write transactions.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::storage {

// Raised inside the storage implementation; SqliteStorage turns it into an Error value at the API
// boundary (or into a start-up failure when opening).
class SqliteError : public std::runtime_error {
public:
    SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
    int code() const noexcept { return code_; }  // extended result code
    bool is_constraint() const noexcept { return (code_ & 0xff) == SQLITE_CONSTRAINT; }
    bool is_busy() const noexcept {
        return (code_ & 0xff) == SQLITE_BUSY || (code_ & 0xff) == SQLITE_LOCKED;
    }

private:
    int code_;
};

class Statement {
public:
    Statement(sqlite3* db, std::string_view sql);
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    // Parameters are 1-based, as in SQL (?1, ?2 ...). Text and blobs are copied (SQLITE_TRANSIENT).
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::string_view value);
    Statement& bind(int index, std::span<const unsigned char> value);
    Statement& bind_null(int index);

    // true: a row is available; false: done. Throws SqliteError.
    bool step();
    // Steps to completion; for INSERT/UPDATE/DELETE.
    void run();
    // Ready for reuse: reset and clear bindings.
    void reset() noexcept;

    bool is_null(int column) const;
    std::int64_t int64(int column) const;
    std::optional<std::int64_t> optional_int64(int column) const;
    std::string text(int column) const;
    std::vector<unsigned char> blob(int column) const;

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

class Database {
public:
    // Creates the file with mode 0600 if missing (and its directory, 0700, if missing), tightens an existing file (and -wal/-shm) to 0600,
    // then sets WAL, synchronous=FULL, foreign_keys, secure_delete, busy_timeout. Throws SqliteError
    // or std::runtime_error: opening is a start-up step.
    static std::unique_ptr<Database> open(const std::filesystem::path& path);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    sqlite3* handle() noexcept { return db_; }
    void exec(const char* sql);
    Statement prepare(std::string_view sql);
    std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }

    // A cached prepared statement, reset when the lease ends. Only for constant SQL text.
    class Lease {
    public:
        explicit Lease(Statement& s) : s_(&s) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() { s_->reset(); }
        Statement* operator->() { return s_; }
        Statement& operator*() { return *s_; }

    private:
        Statement* s_;
    };
    Lease cached(const char* sql);

private:
    Database(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
    sqlite3* db_;
    std::filesystem::path path_;
    std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
};

// BEGIN IMMEDIATE (take the write lock up front so a read-then-write never fails half-way with BUSY);
// rolls back in the destructor unless commit() was called.
class Transaction {
public:
    explicit Transaction(Database& db);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    void commit();

private:
    Database& db_;
    bool done_ = false;
};

}  // namespace rollout_mcp::storage
