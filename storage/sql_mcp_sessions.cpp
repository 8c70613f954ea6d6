// SqlStorage: 2025 MCP sessions shared by instances (storage/mcp_sessions.hpp). Rows are keyed by a hash of the
// session id and scoped to their tenant; deletions tell the other instances (NOTIFY, hashes only) at commit.
#include "storage/postgres_listener.hpp"
#include "storage/sql_storage.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

namespace {

std::array<unsigned char, 32> id_hash(std::string_view session_id) {
    std::array<unsigned char, 32> out{};
    crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(session_id.data()),
                       session_id.size(), nullptr, 0);
    return out;
}

std::string hex(std::span<const unsigned char> bytes) {
    std::string out(bytes.size() * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
    out.pop_back();
    return out;
}

// The id is the client's bearer value: it is checked for shape only so nothing odd reaches a log or a hash.
bool plausible_id(std::string_view id) { return !id.empty() && id.size() <= 128; }

}  // namespace

std::string mcp_session_id_hash(std::string_view session_id) {
    const auto h = id_hash(session_id);
    return hex(h);
}

Result<void> SqlStorage::create_mcp_session(std::string_view session_id, const McpSessionRecord& record) {
    if (!plausible_id(session_id)) return error(ErrorCode::invalid_argument, "session id must be 1-128 bytes");
    if (record.revision.empty() || record.revision.size() > 32 || record.log_level.empty() || record.log_level.size() > 16)
        return error(ErrorCode::invalid_argument, "session revision must be 1-32 bytes and log level 1-16 bytes");
    return guarded<void>("create MCP session", [&]() -> Result<void> {
        Transaction tx(*db_);
        if (auto t = require_tenant(record.tenant_id); !t) return t.error();
        const auto h = id_hash(session_id);
        auto taken = db_->cached("SELECT 1 FROM mcp_sessions WHERE id_hash = ?1");
        taken->bind(1, std::span<const unsigned char>(h));
        if (taken->step()) return error(ErrorCode::already_exists, "session id already exists");
        auto st = db_->cached(
            "INSERT INTO mcp_sessions(id_hash, tenant_id, revision, log_level, created_at, last_active_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        st->bind(1, std::span<const unsigned char>(h))
            .bind(2, record.tenant_id)
            .bind(3, record.revision)
            .bind(4, record.log_level)
            .bind(5, record.created_at_ms)
            .bind(6, record.last_active_ms);
        st->run();
        tx.commit();
        return {};
    });
}

Result<McpSessionRecord> SqlStorage::find_mcp_session(std::string_view session_id, std::string_view tenant_id,
                                                      std::int64_t active_after_ms) {
    if (!plausible_id(session_id)) return error(ErrorCode::not_found, "no such session");
    return guarded<McpSessionRecord>("find MCP session", [&]() -> Result<McpSessionRecord> {
        const auto h = id_hash(session_id);
        auto st = db_->cached(
            "SELECT tenant_id, revision, log_level, created_at, last_active_at FROM mcp_sessions"
            " WHERE id_hash = ?1 AND tenant_id = ?2 AND last_active_at >= ?3");
        st->bind(1, std::span<const unsigned char>(h)).bind(2, tenant_id).bind(3, active_after_ms);
        if (!st->step()) return error(ErrorCode::not_found, "no such session");
        return McpSessionRecord{st->text(0), st->text(1), st->text(2), st->int64(3), st->int64(4)};
    });
}

Result<void> SqlStorage::touch_mcp_session(std::string_view session_id, std::string_view tenant_id, std::int64_t now_ms) {
    if (!plausible_id(session_id)) return error(ErrorCode::not_found, "no such session");
    return guarded<void>("touch MCP session", [&]() -> Result<void> {
        const auto h = id_hash(session_id);
        // Forward only: a late write from a slow instance never makes a session look idler than it is.
        auto st = db_->cached(
            "UPDATE mcp_sessions SET last_active_at = CASE WHEN last_active_at < ?3 THEN ?3 ELSE last_active_at END"
            " WHERE id_hash = ?1 AND tenant_id = ?2");
        st->bind(1, std::span<const unsigned char>(h)).bind(2, tenant_id).bind(3, now_ms);
        st->run();
        if (db_->changes() == 0) return error(ErrorCode::not_found, "no such session");
        return {};
    });
}

Result<void> SqlStorage::set_mcp_session_log_level(std::string_view session_id, std::string_view tenant_id,
                                                   std::string_view log_level) {
    if (log_level.empty() || log_level.size() > 16) return error(ErrorCode::invalid_argument, "log level must be 1-16 bytes");
    if (!plausible_id(session_id)) return error(ErrorCode::not_found, "no such session");
    return guarded<void>("set MCP session log level", [&]() -> Result<void> {
        const auto h = id_hash(session_id);
        auto st = db_->cached("UPDATE mcp_sessions SET log_level = ?3 WHERE id_hash = ?1 AND tenant_id = ?2");
        st->bind(1, std::span<const unsigned char>(h)).bind(2, tenant_id).bind(3, log_level);
        st->run();
        if (db_->changes() == 0) return error(ErrorCode::not_found, "no such session");
        return {};
    });
}

Result<void> SqlStorage::delete_mcp_session(std::string_view session_id, std::string_view tenant_id) {
    if (!plausible_id(session_id)) return error(ErrorCode::not_found, "no such session");
    return guarded<void>("delete MCP session", [&]() -> Result<void> {
        Transaction tx(*db_);
        const auto h = id_hash(session_id);
        auto st = db_->cached("DELETE FROM mcp_sessions WHERE id_hash = ?1 AND tenant_id = ?2");
        st->bind(1, std::span<const unsigned char>(h)).bind(2, tenant_id);
        st->run();
        if (db_->changes() == 0) return error(ErrorCode::not_found, "no such session");
        notify_others(kSessionEndedChannel, {hex(h)});
        tx.commit();
        return {};
    });
}

Result<std::size_t> SqlStorage::delete_idle_mcp_sessions(std::int64_t idle_before_ms, std::size_t max_rows) {
    // 100 hashes of 65 bytes stay under notify_others' 7,000-byte payload, so every deletion is announced.
    max_rows = std::clamp<std::size_t>(max_rows, 1, 100);
    return guarded<std::size_t>("delete idle MCP sessions", [&]() -> Result<std::size_t> {
        Transaction tx(*db_);
        std::vector<std::vector<unsigned char>> idle;
        {
            auto st = db_->cached("SELECT id_hash FROM mcp_sessions WHERE last_active_at < ?1 LIMIT ?2");
            st->bind(1, idle_before_ms).bind(2, static_cast<std::int64_t>(max_rows));
            while (st->step()) idle.push_back(st->blob(0));
        }
        std::vector<std::string> deleted;
        // Each row is re-checked in its DELETE: a touch from another instance since the SELECT keeps it.
        auto del = db_->cached("DELETE FROM mcp_sessions WHERE id_hash = ?1 AND last_active_at < ?2");
        for (const auto& h : idle) {
            del->bind(1, std::span<const unsigned char>(h)).bind(2, idle_before_ms);
            del->run();
            if (db_->changes() > 0) deleted.push_back(hex(h));
            del->reset();
        }
        notify_others(kSessionEndedChannel, deleted);
        tx.commit();
        return deleted.size();
    });
}

}  // namespace rollout_mcp::storage
