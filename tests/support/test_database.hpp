// The database a storage-backed test runs on. ctest registers the storage and sync suites twice: once on a SQLite
// file (the default) and once with ROLLOUT_MCP_TEST_BACKEND=postgresql, where each test gets a schema of its own
// in the PostgreSQL database at ROLLOUT_MCP_TEST_PG_URL (scripts/test.sh starts a throwaway cluster and sets it).
// Header-only; link `storage`.
#pragma once

#include "storage/postgres.hpp"
#include "storage/sql_storage.hpp"
#include "storage/sqlite.hpp"

#include <sodium.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace rollout_mcp::test {

inline bool testing_postgresql() {
    const char* backend = std::getenv("ROLLOUT_MCP_TEST_BACKEND");
    return backend != nullptr && std::string_view(backend) == "postgresql";
}

// The cluster's URL, or "" when the PostgreSQL run has none (the test then skips with a message saying so).
inline std::string test_pg_url() {
    const char* url = std::getenv("ROLLOUT_MCP_TEST_PG_URL");
    return url != nullptr ? std::string(url) : std::string();
}

class TestDatabase {
public:
    // sqlite_path: where the SQLite run keeps its file. On PostgreSQL a fresh schema rmcp_<random> is created.
    explicit TestDatabase(std::filesystem::path sqlite_path) : sqlite_path_(std::move(sqlite_path)) {
        if (!testing_postgresql()) return;
        base_url_ = test_pg_url();
        if (base_url_.empty()) return;
        unsigned char raw[8];
        randombytes_buf(raw, sizeof raw);
        char hex[sizeof raw * 2 + 1];
        sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
        schema_ = std::string("rmcp_") + hex;
        // SQLite's zeroblob(), which tests use to damage sealed rows, exists on the PostgreSQL run too.
        storage::PgDatabase::connect(base_url_)->exec(
            ("CREATE SCHEMA " + schema_ + "; CREATE FUNCTION " + schema_ +
             ".zeroblob(n bigint) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$ SELECT decode(repeat('00', n::int), 'hex') $$")
                .c_str());
        url_ = base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema_;
    }
    ~TestDatabase() {
        if (schema_.empty()) return;
        try {
            storage::PgDatabase::connect(base_url_)->exec(("DROP SCHEMA " + schema_ + " CASCADE").c_str());
        } catch (...) {   // a leftover schema in a throwaway cluster is harmless
        }
    }
    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;

    bool postgresql() const { return testing_postgresql(); }
    // Why this run cannot test (PostgreSQL asked for, no URL given), or "".
    std::string unavailable() const {
        return postgresql() && url_.empty() ? "ROLLOUT_MCP_TEST_BACKEND=postgresql needs ROLLOUT_MCP_TEST_PG_URL"
                                            : std::string();
    }
    const std::string& url() const { return url_; }   // PostgreSQL, schema-scoped
    const std::filesystem::path& sqlite_path() const { return sqlite_path_; }

    std::unique_ptr<storage::SqlStorage> open(crypto::MasterKey master) const {
        if (!postgresql()) return storage::SqlStorage::open(sqlite_path_, std::move(master));
        if (url_.empty()) throw std::runtime_error(unavailable());
        return storage::SqlStorage::connect_postgres(url_, std::move(master));
    }
    // A second, raw connection to the same database, the way an attacker with database access would poke it.
    std::unique_ptr<storage::Database> raw() const {
        if (!postgresql()) return storage::SqliteDatabase::open(sqlite_path_);
        return storage::PgDatabase::connect(url_);
    }

private:
    std::filesystem::path sqlite_path_;
    std::string base_url_;
    std::string schema_;
    std::string url_;
};

}  // namespace rollout_mcp::test
