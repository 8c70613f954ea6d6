// Fixture for storage tests: a temporary directory, a master key and helpers to (re)open the store
// and to poke at the database directly, the way an attacker with file or database access would. The same tests
// run on SQLite and on PostgreSQL (tests/support/test_database.hpp); tests of SQLite's file itself call
// sqlite_only() first.
#pragma once

#include "crypto/master_key.hpp"
#include "storage/sql_storage.hpp"
#include "tests/support/test_database.hpp"
#include "tests/crypto/test_support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

// Tests of SQLite's own file or migration history skip on the PostgreSQL run.
#define SQLITE_ONLY() \
    if (on_postgresql()) GTEST_SKIP() << "a test of the SQLite file or its migration history"

namespace rollout_mcp::storage::test {

using rollout_mcp::test::bytes;
using rollout_mcp::test::TempDir;

inline crypto::MasterKey master_copy(const crypto::SecretBytes& key, std::string source) {
    return crypto::MasterKey{crypto::SecretBytes::copy_of(key.view()), std::move(source), {}};
}

class StorageTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (const std::string why = database.unavailable(); !why.empty()) GTEST_SKIP() << why;
    }

    std::filesystem::path db_path() const { return dir / "rollout-mcp.db"; }

    std::unique_ptr<SqlStorage> open_store() { return database.open(master_copy(master, "test master key")); }
    std::unique_ptr<SqlStorage> open_store_with(crypto::MasterKey other) { return database.open(std::move(other)); }

    // A second, raw connection to the same database.
    std::unique_ptr<Database> raw() { return database.raw(); }
    bool on_postgresql() const { return database.postgresql(); }

    void exec_raw(const std::string& sql) { raw()->exec(sql.c_str()); }

    // sync_jobs' secondary indexes by name, each with its definition (migration 16 / PostgreSQL 11).
    std::map<std::string, std::string> sync_jobs_indexes() {
        auto db = raw();
        Statement st = db->prepare(on_postgresql()
            // This test's schema only: other tests' schemas, made and dropped concurrently, are not ours to read (a
            // definition read while its index is dropped fails with "could not open relation").
            ? "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'sync_jobs'"
              " AND indexname <> 'sync_jobs_pkey'"
            : "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sync_jobs' AND sql IS NOT NULL");
        std::map<std::string, std::string> out;
        while (st.step()) out[st.text(0)] = st.text(1);
        return out;
    }
    static std::vector<std::string> names_of(const std::map<std::string, std::string>& indexes) {
        std::vector<std::string> names;
        for (const auto& [name, definition] : indexes) names.push_back(name);
        return names;
    }

    Tenant make_tenant(SqlStorage& s, const std::string& name) {
        auto t = s.create_tenant(name);
        if (!t) throw std::runtime_error(t.error().message);
        return *t;
    }

    TempDir dir;
    rollout_mcp::test::TestDatabase database{dir / "rollout-mcp.db"};
    crypto::SecretBytes master = crypto::SecretBytes::random(crypto::kKeyBytes);
};

// A store with two teams, a and b (isolation tests read one and write the other).
class TwoTeamsTest : public StorageTest {
protected:
    void SetUp() override {
        StorageTest::SetUp();
        if (IsSkipped()) return;
        store = open_store();
        a = make_tenant(*store, "team-a");
        b = make_tenant(*store, "team-b");
    }
    std::unique_ptr<SqlStorage> store;
    Tenant a, b;
};

}  // namespace rollout_mcp::storage::test
