#include "storage/migrations.hpp"
#include "storage/sqlite.hpp"
#include "tests/storage/storage_fixture.hpp"

#include <sys/stat.h>

#include <thread>
#include <vector>

namespace rollout_mcp::storage::test {
namespace {

std::string pragma(Database& db, const char* sql) {
    Statement st = db.prepare(sql);
    return st.step() ? st.text(0) : std::string();
}

class DatabaseTest : public StorageTest {};

TEST_F(DatabaseTest, FilesAreCreatedMode0600EvenWithPermissiveUmask) {
    SQLITE_ONLY();
    const mode_t old = ::umask(0);
    auto s = open_store();
    make_tenant(*s, "acme");  // forces WAL traffic
    ::umask(old);
    EXPECT_EQ(rollout_mcp::test::file_mode(db_path()), 0600u);
    ASSERT_TRUE(std::filesystem::exists(db_path().string() + "-wal"));
    EXPECT_EQ(rollout_mcp::test::file_mode(db_path().string() + "-wal"), 0600u);
    EXPECT_EQ(rollout_mcp::test::file_mode(db_path().string() + "-shm"), 0600u);
}

TEST_F(DatabaseTest, ExistingLooseFileIsTightened) {
    SQLITE_ONLY();
    rollout_mcp::test::write_file(db_path(), "", 0644);
    auto s = open_store();
    EXPECT_EQ(rollout_mcp::test::file_mode(db_path()), 0600u);
}

TEST_F(DatabaseTest, MissingDataDirectoryIsCreatedPrivate) {
    SQLITE_ONLY();
    const auto path = dir / "data" / "rollout-mcp.db";
    auto s = SqlStorage::open(path, master_copy(master, "test"));
    EXPECT_EQ(rollout_mcp::test::file_mode(dir / "data"), 0700u);
    EXPECT_EQ(rollout_mcp::test::file_mode(path), 0600u);
}

// Processes opening a fresh file together (a `serve` and an admin command): switching it to WAL makes SQLite answer
// "database is locked" at once, without waiting, to all but one of them; every one must still open it.
TEST_F(DatabaseTest, ConnectionsOpeningAFreshFileTogetherAllOpenIt) {
    SQLITE_ONLY();
    constexpr int kRounds = 25, kConnections = 6;
    for (int round = 0; round < kRounds; ++round) {
        const auto path = dir / ("fresh-" + std::to_string(round) + ".db");
        std::vector<std::string> errors(kConnections);
        std::vector<std::thread> threads;
        for (int i = 0; i < kConnections; ++i)
            threads.emplace_back([&, i] {
                try {
                    auto db = SqliteDatabase::open(path);
                    Statement st = db->prepare("PRAGMA journal_mode");
                    if (!st.step() || st.text(0) != "wal") errors[i] = "not in WAL mode";
                } catch (const std::exception& e) {
                    errors[i] = e.what();
                }
            });
        for (auto& t : threads) t.join();
        for (const auto& e : errors) ASSERT_EQ(e, "") << "round " << round;
    }
}

TEST_F(DatabaseTest, ConnectionPragmas) {
    SQLITE_ONLY();
    auto db = raw();
    EXPECT_EQ(pragma(*db, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(pragma(*db, "PRAGMA foreign_keys"), "1");
    EXPECT_EQ(pragma(*db, "PRAGMA secure_delete"), "1");
    EXPECT_EQ(pragma(*db, "PRAGMA temp_store"), "2") << "journals and sorts in memory, never in /var/tmp";
    EXPECT_EQ(pragma(*db, "PRAGMA cache_size"), "-32768");
    EXPECT_EQ(pragma(*db, "PRAGMA synchronous"), "2");  // FULL
    EXPECT_EQ(pragma(*db, "PRAGMA busy_timeout"), "5000");
}

// finish_sync_attempt's commit does not wait for the disk (storage/sql.hpp, commit_unsynced); every other commit
// still does, so the relaxed setting must end with that one commit, on both engines, whether it commits or fails.
TEST_F(DatabaseTest, AnUnsyncedCommitIsCommittedAndLeavesLaterCommitsSynced) {
    auto store = open_store();   // the schema
    auto db = raw();
    const char* const durability = on_postgresql() ? "SHOW synchronous_commit" : "PRAGMA synchronous";
    const std::string synced = pragma(*db, durability);   // SQLite: FULL (2); PostgreSQL: the cluster's setting
    if (!on_postgresql()) {
        ASSERT_EQ(synced, "2");
    }
    {
        Transaction tx(*db, Transaction::Durability::unsynced);
        EXPECT_EQ(pragma(*db, durability), on_postgresql() ? "off" : "1");
        db->exec("INSERT INTO tenants(id, name, created_at) VALUES ('t_unsynced000000000000000', 'unsynced', 1)");
        tx.commit();
    }
    EXPECT_EQ(pragma(*db, durability), synced);
    EXPECT_EQ(pragma(*raw(), "SELECT name FROM tenants WHERE id = 't_unsynced000000000000000'"), "unsynced")
        << "visible to another connection";
    if (on_postgresql()) return;   // SET LOCAL ends with its transaction, committed or not
    {
        // A foreign key checked at COMMIT (deferred) makes the COMMIT itself fail.
        db->exec("PRAGMA defer_foreign_keys=ON");
        Transaction tx(*db, Transaction::Durability::unsynced);
        db->exec("INSERT INTO api_keys(tenant_id, prefix, hash, created_at)"
                 " VALUES ('t_nobody00000000000000000', 'abcdefgh', zeroblob(32), 1)");
        EXPECT_THROW(tx.commit(), SqlError);
    }
    EXPECT_EQ(pragma(*db, durability), synced) << "restored after a failed commit too";
}

TEST_F(DatabaseTest, MigrationsCreateStrictTablesAndAreIdempotent) {
    SQLITE_ONLY();
    auto db = raw();
    EXPECT_EQ(apply_migrations(*db), static_cast<int>(migrations(Dialect::sqlite).size()));
    EXPECT_EQ(apply_migrations(*db), 0);
    EXPECT_EQ(pragma(*db, "SELECT count(*) FROM schema_migrations"),
              std::to_string(migrations(Dialect::sqlite).size()));
    EXPECT_EQ(pragma(*db, "SELECT max(version) FROM schema_migrations"),
              std::to_string(latest_schema_version()));
    for (const char* table : {"tenants", "api_keys", "data_keys", "master_key_check", "api_key_root",
                              "rollout_configs", "crm_connections", "sync_jobs", "sync_ledger",
                              "schema_migrations"}) {
        Statement st = db->prepare("SELECT strict FROM pragma_table_list WHERE name = ?1");
        st.bind(1, std::string_view(table));
        ASSERT_TRUE(st.step()) << table;
        EXPECT_EQ(st.int64(0), 1) << table << " is not STRICT";
    }
    // STRICT really rejects a mistyped value.
    EXPECT_THROW(db->exec("INSERT INTO tenants(id, name, created_at) VALUES ('t', 'n', 'yesterday')"),
                 SqlError);
}

// The ledger's re-key (SQLite migration 17, PostgreSQL 12) keeps every row and column, keeps the key unique, and
// leaves the primary key serving the lookups by local id.
TEST_F(DatabaseTest, TheLedgerRekeyKeepsItsRowsAndItsUniqueKey) {
    const int rekey = on_postgresql() ? 12 : 17;
    {
        auto db = raw();
        Transaction tx(*db);
        db->exec(on_postgresql() ? "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
                                   " applied_at BIGINT NOT NULL)"
                                 : "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                                   " applied_at INTEGER NOT NULL) STRICT");
        for (const Migration& m : migrations(on_postgresql() ? Dialect::postgresql : Dialect::sqlite)) {
            if (m.version >= rekey) break;
            db->exec(m.sql);
            Statement ins = db->prepare("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?1, ?2, 0)");
            ins.bind(1, std::int64_t{m.version}).bind(2, std::string_view(m.name));
            ins.run();
        }
        db->exec("INSERT INTO tenants(id, name, created_at) VALUES ('t_rekey', 'rekey', 1)");
        // One local id under two kinds, and a second id: the old key allowed both, so must the new one.
        db->exec("INSERT INTO sync_ledger(tenant_id, crm_type, entity_kind, local_id, external_id, payload_hash,"
                 " created_at, updated_at, crm_state, checked_at, written_state) VALUES"
                 " ('t_rekey', 'hubspot', 'person', 'buyer-1', 'person_1', NULL, 10, 11, '{\"a\":1}', 12, '{\"a\":2}'),"
                 " ('t_rekey', 'hubspot', 'tour_buyer', 'buyer-1', 'x', NULL, 20, 21, NULL, 0, NULL),"
                 " ('t_rekey', 'hubspot', 'appointment', 'tour-1/p', 'appointment_3', NULL, 30, 31, NULL, 0, NULL)");
        tx.commit();
    }
    auto db = raw();
    EXPECT_EQ(apply_migrations(*db), latest_schema_version(on_postgresql() ? Dialect::postgresql : Dialect::sqlite) -
                                         rekey + 1);
    EXPECT_EQ(pragma(*db, "SELECT count(*) FROM sync_ledger"), "3");
    EXPECT_EQ(pragma(*db, "SELECT external_id || ' ' || created_at || ' ' || updated_at || ' ' || crm_state || ' ' ||"
                          " checked_at || ' ' || written_state FROM sync_ledger WHERE entity_kind = 'person'"),
              "person_1 10 11 {\"a\":1} 12 {\"a\":2}");
    EXPECT_EQ(pragma(*db, on_postgresql() ? "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()"
                                            " AND indexname = 'sync_ledger_local'"
                                          : "SELECT count(*) FROM sqlite_master WHERE name = 'sync_ledger_local'"),
              "0");
    EXPECT_THROW(db->exec("INSERT INTO sync_ledger(tenant_id, crm_type, entity_kind, local_id, external_id,"
                          " created_at, updated_at) VALUES ('t_rekey', 'hubspot', 'person', 'buyer-1', 'dup', 1, 1)"),
                 SqlError);
    // The primary key's columns, in order, and the indexes left.
    EXPECT_EQ(pragma(*db, on_postgresql()
                              ? "SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM pg_index i"
                                " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
                                " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                                " WHERE i.indrelid = 'sync_ledger'::regclass AND i.indisprimary"
                              : "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info((SELECT name"
                                " FROM pragma_index_list('sync_ledger') WHERE origin = 'pk')) ORDER BY seqno)"),
              "tenant_id,crm_type,local_id,entity_kind");
    EXPECT_EQ(pragma(*db, on_postgresql()
                              ? "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes"
                                " WHERE schemaname = current_schema() AND tablename = 'sync_ledger'"
                              : "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'index'"
                                " AND tbl_name = 'sync_ledger' AND sql IS NOT NULL ORDER BY name)"),
              on_postgresql() ? "sync_ledger_checked,sync_ledger_external,sync_ledger_pkey"
                              : "sync_ledger_checked,sync_ledger_external");
    auto store = open_store();
    auto rows = store->sync_ledger("t_rekey", "hubspot", {"buyer-1", "tour-1/p"});
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), 3u);
    EXPECT_EQ((*rows)[0].local_id, "buyer-1");
    EXPECT_EQ((*rows)[0].entity_kind, "person");
    EXPECT_EQ((*rows)[1].entity_kind, "tour_buyer");
    EXPECT_EQ((*rows)[2].external_id, "appointment_3");
    // Still the team's: its rows go with it.
    db->exec("DELETE FROM tenants WHERE id = 't_rekey'");
    EXPECT_EQ(pragma(*db, "SELECT count(*) FROM sync_ledger"), "0");
}

TEST_F(DatabaseTest, ReopeningStoreKeepsDataAndSchema) {
    { auto s = open_store(); make_tenant(*s, "acme"); }
    auto s = open_store();
    auto t = s->find_tenant_by_name("acme");
    ASSERT_TRUE(t) << t.error().message;
}

TEST_F(DatabaseTest, NewerDatabaseIsRefused) {
    { auto s = open_store(); }
    exec_raw("INSERT INTO schema_migrations(version, name, applied_at) VALUES (999, 'future', 0)");
    try {
        (void)open_store();
        FAIL() << "opened a database from the future";
    } catch (const SchemaError& e) {
        EXPECT_NE(std::string(e.what()).find("schema version 999"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("newer than this binary"), std::string::npos);
    }
}

TEST_F(DatabaseTest, ForeignKeysAreEnforced) {
    auto s = open_store();
    auto r = s->put_crm_connection("t_nobody", "hubspot", "", bytes("cred"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::not_found);
    try {
        exec_raw("INSERT INTO api_keys(tenant_id, prefix, hash, created_at) VALUES ('t_nobody', 'abcdefgh', zeroblob(32), 0)");
        FAIL() << "a key of no tenant was stored";
    } catch (const SqlError& e) {
        EXPECT_EQ(e.kind(), SqlError::Kind::foreign_key) << e.what();
    }
}

}  // namespace
}  // namespace rollout_mcp::storage::test
