// Fixture for storage tests: a temporary directory, a master key and helpers to (re)open the store
// and to poke at the database file directly, the way an attacker with file access would.
#pragma once

#include "crypto/master_key.hpp"
#include "storage/sqlite.hpp"
#include "storage/sqlite_storage.hpp"
#include "tests/crypto/test_support.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace rollout_mcp::storage::test {

using rollout_mcp::test::bytes;
using rollout_mcp::test::TempDir;

inline crypto::MasterKey master_copy(const crypto::SecretBytes& key, std::string source) {
    return crypto::MasterKey{crypto::SecretBytes::copy_of(key.view()), std::move(source), {}};
}

class StorageTest : public ::testing::Test {
protected:
    std::filesystem::path db_path() const { return dir / "rollout-mcp.db"; }

    std::unique_ptr<SqliteStorage> open_store() {
        return SqliteStorage::open(db_path(), master_copy(master, "test master key"));
    }

    // A second, raw connection to the same file.
    std::unique_ptr<Database> raw() { return Database::open(db_path()); }

    void exec_raw(const std::string& sql) { raw()->exec(sql.c_str()); }

    Tenant make_tenant(SqliteStorage& s, const std::string& name) {
        auto t = s.create_tenant(name);
        if (!t) throw std::runtime_error(t.error().message);
        return *t;
    }

    TempDir dir;
    crypto::SecretBytes master = crypto::SecretBytes::random(crypto::kKeyBytes);
};

}  // namespace rollout_mcp::storage::test
