#include "storage/sqlite.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace rollout_mcp::storage {
namespace {

constexpr int kBusyTimeoutMs = 5000;   // how long a statement waits for another connection's lock

SqlError::Kind kind_of(int rc) {
    switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY: return SqlError::Kind::unique;
        case SQLITE_CONSTRAINT_FOREIGNKEY: return SqlError::Kind::foreign_key;
        case SQLITE_CONSTRAINT_CHECK: return SqlError::Kind::check;
        case SQLITE_CONSTRAINT_NOTNULL: return SqlError::Kind::not_null;
        default: break;
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return SqlError::Kind::check;
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return SqlError::Kind::busy;
    return SqlError::Kind::other;
}

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view context) {
    std::string msg(context);
    msg += ": ";
    msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    throw SqlError(kind_of(rc), msg);
}

void check(sqlite3* db, int rc, std::string_view context) {
    if (rc != SQLITE_OK) fail(db, rc, context);
}

// The database holds wrapped keys and ciphertexts; nobody but the service user needs to read it.
void create_or_tighten(const std::filesystem::path& p, bool create) {
    const int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0);
    const int fd = ::open(p.c_str(), flags, 0600);
    if (fd < 0) {
        if (!create && errno == ENOENT) return;
        throw std::runtime_error("cannot open database file " + p.string() + ": " +
                                 std::strerror(errno));
    }
    struct stat st {};
    int rc = ::fstat(fd, &st);
    if (rc == 0 && (st.st_mode & 077) != 0) rc = ::fchmod(fd, 0600);
    const int err = errno;
    ::close(fd);
    if (rc != 0)
        throw std::runtime_error("cannot set mode 0600 on " + p.string() + ": " + std::strerror(err));
}

std::string pragma_text(Database& db, const char* sql) {
    Statement st = db.prepare(sql);
    return st.step() ? st.text(0) : std::string();
}

// Switching a new file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at once, without its busy
// handler, to a connection that meets another one switching it (processes opening a fresh database together: a
// `serve` and an admin command). Tried again for as long as the busy timeout would have waited.
std::string wal_mode_with_retries(Database& db) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
    for (int attempt = 1;; ++attempt) {
        try {
            return pragma_text(db, "PRAGMA journal_mode=WAL");
        } catch (const SqlError& e) {
            if (e.kind() != SqlError::Kind::busy || std::chrono::steady_clock::now() >= give_up) throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(attempt, 20)));
    }
}

class SqliteStatement final : public StatementImpl {
public:
    SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
        const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
        if (rc != SQLITE_OK) fail(db, rc, "prepare");
    }
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;
    ~SqliteStatement() override { sqlite3_finalize(stmt_); }

    void bind(int index, std::int64_t value) override { check(db_, sqlite3_bind_int64(stmt_, index, value), "bind"); }
    void bind(int index, std::string_view value) override {
        check(db_, sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
              "bind");
    }
    void bind(int index, std::span<const unsigned char> value) override {
        // A zero-length blob must still be a blob, not NULL, so never pass a null pointer.
        static const unsigned char empty = 0;
        check(db_, sqlite3_bind_blob64(stmt_, index, value.empty() ? &empty : value.data(), value.size(),
                                       SQLITE_TRANSIENT),
              "bind");
    }
    void bind_null(int index) override { check(db_, sqlite3_bind_null(stmt_, index), "bind"); }

    bool step() override {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail(db_, rc, "step");
    }
    void reset() noexcept override {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

    bool is_null(int column) const override { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
    std::int64_t int64(int column) const override { return sqlite3_column_int64(stmt_, column); }
    std::string text(int column) const override {
        const auto* p = sqlite3_column_text(stmt_, column);
        const int n = sqlite3_column_bytes(stmt_, column);
        return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
    }
    std::vector<unsigned char> blob(int column) const override {
        const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, column));
        const int n = sqlite3_column_bytes(stmt_, column);
        return p == nullptr ? std::vector<unsigned char>() : std::vector<unsigned char>(p, p + n);
    }

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

std::unique_ptr<SqliteDatabase> SqliteDatabase::open(const std::filesystem::path& path) {
    if (sqlite3_libversion_number() < 3037000)
        throw std::runtime_error(std::string("SQLite ") + sqlite3_libversion() +
                                 " is too old: STRICT tables need 3.37 or newer");
    // A missing data directory is created private: it holds the database and maybe the key file.
    if (path.has_parent_path() && !std::filesystem::exists(path.parent_path())) {
        std::filesystem::create_directories(path.parent_path());
        std::filesystem::permissions(path.parent_path(), std::filesystem::perms::owner_all);
    }
    create_or_tighten(path, true);
    create_or_tighten(path.string() + "-wal", false);
    create_or_tighten(path.string() + "-shm", false);

    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
                                   nullptr);
    std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(raw, path));  // closes `raw` even when open failed
    if (rc != SQLITE_OK) fail(raw, rc, "open " + path.string());
    sqlite3_extended_result_codes(raw, 1);
    check(raw, sqlite3_busy_timeout(raw, kBusyTimeoutMs), "busy_timeout");

    if (wal_mode_with_retries(*db) != "wal") throw std::runtime_error("cannot switch " + path.string() + " to WAL mode");
    db->exec("PRAGMA synchronous=FULL");  // a committed sync job must survive power loss
    db->exec("PRAGMA foreign_keys=ON");
    db->exec("PRAGMA secure_delete=ON");
    db->exec("PRAGMA trusted_schema=OFF");
    // Statement and savepoint journals (each enqueue of a group commit runs in a savepoint) and sorts stay in
    // memory: by default SQLite writes them to deleted files in /var/tmp, where page images holding tour ids and
    // ledger rows would sit in free disk blocks that secure_delete never reaches; they were also half the storage
    // thread's writes (about 15 pwrite calls per synced tour; README "Sync path CPU").
    // https://www.sqlite.org/tempfiles.html#temp_file_storage_locations
    db->exec("PRAGMA temp_store=MEMORY");
    // 32 MiB of page cache instead of 2: the outbox's working set (due index, recent jobs, ledger pages) is read back
    // from the WAL and the database file on every miss. One connection per process, so at most 32 MiB.
    db->exec("PRAGMA cache_size=-32768");
    // Checkpoint every 8000 WAL pages (32 MiB) instead of 1000: a busy outbox rewrites the same job, payload and ledger
    // pages many times over, and each checkpoint copies a page once however often it changed. Measured with
    // bench/sync_throughput.sh (raised:32:256, 3 paired passes): 1.08x the tours/s, the same CPU per tour (README
    // "Sync path CPU"). The WAL file is cut back to 64 MiB when a checkpoint leaves it larger.
    db->exec("PRAGMA wal_autocheckpoint=8000");
    db->exec("PRAGMA journal_size_limit=67108864");
    if (pragma_text(*db, "PRAGMA foreign_keys") != "1" || pragma_text(*db, "PRAGMA secure_delete") != "1" ||
        pragma_text(*db, "PRAGMA temp_store") != "2")
        throw std::runtime_error("SQLite refused foreign_keys/secure_delete/temp_store on " + path.string());
    return db;
}

SqliteDatabase::~SqliteDatabase() {
    clear_statement_cache();  // statements must be finalized before the connection closes
    sqlite3_close_v2(db_);
}

void SqliteDatabase::exec(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw SqlError(kind_of(rc), "exec: " + msg);
    }
}

// SQLite refuses to change the safety level inside a transaction, so it is set before BEGIN and put back after
// the transaction ends, however it ends. In WAL mode NORMAL skips the fsync at commit; the WAL is synced by the
// next FULL commit or checkpoint.
void SqliteDatabase::begin_unsynced() {
    exec("PRAGMA synchronous=NORMAL");
    unsynced_ = true;
    try {
        exec("BEGIN IMMEDIATE");
    } catch (...) {
        restore_synced();
        throw;
    }
}

void SqliteDatabase::commit() {
    exec("COMMIT");   // a failed COMMIT leaves the transaction open: the rollback that follows restores
    restore_synced();
}

void SqliteDatabase::rollback() noexcept {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    restore_synced();
}

void SqliteDatabase::restore_synced() noexcept {
    if (!unsynced_) return;
    // Cannot fail outside a transaction; if it ever did, the next begin_unsynced would try again, and every commit
    // in between would be unsynced: checked by the storage tests (DatabaseTest.AnUnsyncedCommit...).
    unsynced_ = sqlite3_exec(db_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr) != SQLITE_OK;
}

Statement SqliteDatabase::prepare(std::string_view sql) {
    return Statement(std::make_unique<SqliteStatement>(db_, sql));
}

}  // namespace rollout_mcp::storage
