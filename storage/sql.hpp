// The SQL layer SqlStorage is written against, with two engines behind it: SQLite (storage/sqlite.hpp, the
// embedded default) and PostgreSQL (storage/postgres.hpp, shared by several server instances). One Database is
// one connection; Statements have bind/step helpers; Transactions roll back unless committed.
//
// SQL text is written once with SQLite's numbered parameters (?1, ?2 ...); the PostgreSQL connection rewrites
// them to $1, $2. Where the dialects differ, the caller asks dialect() and picks its text.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::storage {

enum class Dialect { sqlite, postgresql };

// Raised inside the storage implementation; SqlStorage turns it into an Error value at the API boundary (or into
// a start-up failure when opening). Messages name tables and constraints, never bound values.
class SqlError : public std::runtime_error {
public:
    enum class Kind { unique, foreign_key, check, not_null, busy, connection, other };
    SqlError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    Kind kind() const noexcept { return kind_; }
    bool is_constraint() const noexcept {
        return kind_ == Kind::unique || kind_ == Kind::foreign_key || kind_ == Kind::check ||
               kind_ == Kind::not_null;
    }
    bool is_busy() const noexcept { return kind_ == Kind::busy; }

private:
    Kind kind_;
};

// One engine's prepared statement (storage/sqlite.cpp, storage/postgres.cpp).
class StatementImpl {
public:
    virtual ~StatementImpl() = default;
    virtual void bind(int index, std::int64_t value) = 0;
    virtual void bind(int index, std::string_view value) = 0;
    virtual void bind(int index, std::span<const unsigned char> value) = 0;
    virtual void bind_null(int index) = 0;
    virtual bool step() = 0;
    virtual void reset() noexcept = 0;
    virtual bool is_null(int column) const = 0;
    virtual std::int64_t int64(int column) const = 0;
    virtual std::string text(int column) const = 0;
    virtual std::vector<unsigned char> blob(int column) const = 0;
};

class Statement {
public:
    explicit Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}

    // Parameters are 1-based, as in SQL (?1, ?2 ...). Text and blobs are copied.
    Statement& bind(int index, std::int64_t value) { impl_->bind(index, value); return *this; }
    Statement& bind(int index, std::string_view value) { impl_->bind(index, value); return *this; }
    Statement& bind(int index, std::span<const unsigned char> value) { impl_->bind(index, value); return *this; }
    Statement& bind_null(int index) { impl_->bind_null(index); return *this; }

    // true: a row is available; false: done. Throws SqlError.
    bool step() { return impl_->step(); }
    // Steps to completion; for INSERT/UPDATE/DELETE.
    void run() {
        while (step()) {
        }
    }
    // Ready for reuse: reset and clear bindings.
    void reset() noexcept { impl_->reset(); }

    bool is_null(int column) const { return impl_->is_null(column); }
    std::int64_t int64(int column) const { return impl_->int64(column); }
    std::optional<std::int64_t> optional_int64(int column) const {
        if (is_null(column)) return std::nullopt;
        return int64(column);
    }
    std::string text(int column) const { return impl_->text(column); }
    std::vector<unsigned char> blob(int column) const { return impl_->blob(column); }

private:
    std::unique_ptr<StatementImpl> impl_;
};

class Database {
public:
    virtual ~Database() = default;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    virtual Dialect dialect() const noexcept = 0;
    // How messages name this database: the SQLite file's path, or "the PostgreSQL database" (never its URL,
    // which may carry a password).
    virtual const std::string& description() const noexcept = 0;
    // Runs SQL text without parameters (several statements allowed). Throws SqlError.
    virtual void exec(const char* sql) = 0;
    virtual Statement prepare(std::string_view sql) = 0;
    // Rows changed by the last INSERT, UPDATE or DELETE.
    virtual std::int64_t changes() const noexcept = 0;

    // Transactions (use Transaction). SQLite: BEGIN IMMEDIATE, which takes the write lock up front, so every
    // write transaction runs alone. PostgreSQL: BEGIN (read committed); what must not interleave across
    // instances takes lock_for_transaction() first.
    virtual void begin() = 0;
    // A transaction whose commit does not wait for the disk: durable against a crash of this process (SQLite's
    // WAL write has returned; PostgreSQL has it), not against power loss or an OS crash until the next durable
    // commit (WAL order: an earlier durable commit is never undone by losing this one). Only for transactions
    // whose loss is made good by redoing work (README "Which commits wait for the disk"). Ends as any other.
    virtual void begin_unsynced() = 0;
    virtual void commit() = 0;
    virtual void rollback() noexcept = 0;
    // Serializes transactions that name the same scope until this transaction ends (PostgreSQL: a transaction
    // advisory lock on a hash of the scope; SQLite: nothing to do, its writers already run one at a time).
    virtual void lock_for_transaction(std::string_view scope) = 0;

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
    Lease cached(const char* sql) {
        auto it = cache_.find(std::string_view(sql));
        if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<Statement>(prepare(sql))).first;
        return Lease(*it->second);
    }

protected:
    Database() = default;
    // Engines whose statements hold the connection must drop them before closing it.
    void clear_statement_cache() noexcept { cache_.clear(); }

private:
    std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
};

// Begins in the constructor; rolls back in the destructor unless commit() was called.
class Transaction {
public:
    enum class Durability { synced, unsynced };   // unsynced: see Database::begin_unsynced
    explicit Transaction(Database& db, Durability durability = Durability::synced) : db_(db) {
        if (durability == Durability::unsynced) db_.begin_unsynced();
        else db_.begin();
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() {
        if (!done_) db_.rollback();
    }
    void commit() {
        db_.commit();
        done_ = true;
    }

private:
    Database& db_;
    bool done_ = false;
};

}  // namespace rollout_mcp::storage
