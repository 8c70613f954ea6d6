#include "storage/migrations.hpp"

#include <chrono>
#include <string>

namespace rollout_mcp::storage {

std::span<const Migration> migrations(Dialect dialect) {
    return dialect == Dialect::postgresql ? postgres_migrations() : sqlite_migrations();
}

int latest_schema_version(Dialect dialect) {
    const auto list = migrations(dialect);
    return list.back().version;
}

int apply_migrations(Database& db) {
    const Dialect dialect = db.dialect();
    try {
        Transaction tx(db);
        // The session's bounded waits (storage/postgres.cpp) are for requests, not for waiting on another instance's
        // migration or for running a long one.
        if (dialect == Dialect::postgresql) db.exec("SET LOCAL lock_timeout = '10min'; SET LOCAL statement_timeout = 0");
        db.lock_for_transaction("rollout-mcp schema migrations");
        db.exec(dialect == Dialect::postgresql ? "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                                 "  version    BIGINT PRIMARY KEY,"
                                                 "  name       TEXT   NOT NULL,"
                                                 "  applied_at BIGINT NOT NULL)"
                                               : "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                                 "  version    INTEGER PRIMARY KEY,"
                                                 "  name       TEXT    NOT NULL,"
                                                 "  applied_at INTEGER NOT NULL) STRICT");
        std::int64_t current = 0;
        {
            Statement st = db.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
            if (st.step()) current = st.int64(0);
        }
        if (current > latest_schema_version(dialect))
            throw SchemaError("database " + db.description() + " has schema version " + std::to_string(current) +
                              ", newer than this binary supports (" + std::to_string(latest_schema_version(dialect)) +
                              "); refusing to start (upgrade rollout-mcp or restore a backup)");
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        int applied = 0;
        for (const Migration& m : migrations(dialect)) {
            if (m.version <= current) continue;
            try {
                db.exec(m.sql);
            } catch (const SqlError& e) {
                throw SchemaError("migration " + std::to_string(m.version) + " (" + m.name + ") failed: " + e.what());
            }
            Statement ins = db.prepare("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?1, ?2, ?3)");
            ins.bind(1, std::int64_t{m.version}).bind(2, std::string_view(m.name)).bind(3, now);
            ins.run();
            ++applied;
        }
        tx.commit();
        return applied;
    } catch (const SqlError& e) {
        throw SchemaError("cannot apply schema migrations to " + db.description() + ": " + e.what());
    }
}

}  // namespace rollout_mcp::storage
