// SqlStorage: create_automation's records (storage/automations.hpp). One row per (team, name); the
// reservation is taken in the same transaction that reads it, so two calls with one name never both create.
#include "storage/sql_storage.hpp"

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

Result<AutomationReservation> SqlStorage::reserve_automation(std::string_view tenant_id, std::string_view name,
                                                                const std::vector<unsigned char>& spec_hash,
                                                                std::int64_t now_ms, std::int64_t stale_before_ms) {
    if (name.empty() || name.size() > 200)
        return error(ErrorCode::invalid_argument, "name must be 1-200 bytes");
    if (spec_hash.size() != 32) return error(ErrorCode::invalid_argument, "spec_hash must be 32 bytes");
    return guarded<AutomationReservation>("reserve automation", [&]() -> Result<AutomationReservation> {
        Transaction tx(*db_);
        db_->lock_for_transaction("automations " + std::string(tenant_id));   // one reservation decision at a time
        if (auto t = require_tenant(tenant_id); !t) return t.error();
        AutomationReservation out;
        auto st = db_->cached(
            "SELECT name, spec_hash, automation_id, created_at, updated_at FROM automations"
            " WHERE tenant_id = ?1 AND name = ?2");
        st->bind(1, tenant_id).bind(2, name);
        if (st->step()) {
            out.existing = {st->text(0), st->blob(1), st->text(2), st->int64(3), st->int64(4)};
            // A pending row nobody has touched for a while is handed to this caller (one at a time).
            if (out.existing.automation_id.empty() && out.existing.updated_at_ms < stale_before_ms &&
                out.existing.spec_hash == spec_hash) {
                auto touch = db_->cached("UPDATE automations SET updated_at = ?3 WHERE tenant_id = ?1 AND name = ?2");
                touch->bind(1, tenant_id).bind(2, name).bind(3, now_ms);
                touch->run();
                out.existing.updated_at_ms = now_ms;
                tx.commit();
            }
            return out;
        }
        auto ins = db_->cached(
            "INSERT INTO automations(tenant_id, name, spec_hash, automation_id, created_at, updated_at)"
            " VALUES (?1, ?2, ?3, '', ?4, ?4)");
        ins->bind(1, tenant_id).bind(2, name).bind(3, std::span<const unsigned char>(spec_hash)).bind(4, now_ms);
        ins->run();
        tx.commit();
        out.reserved_now = true;
        return out;
    });
}

Result<void> SqlStorage::complete_automation(std::string_view tenant_id, std::string_view name,
                                                std::string_view automation_id, std::int64_t now_ms) {
    if (automation_id.empty())
        return error(ErrorCode::invalid_argument, "automation_id must not be empty");
    return guarded<void>("complete automation", [&]() -> Result<void> {
        auto st = db_->cached(
            "UPDATE automations SET automation_id = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND name = ?2");
        st->bind(1, tenant_id).bind(2, name).bind(3, automation_id).bind(4, now_ms);
        st->run();
        if (db_->changes() == 0)
            return error(ErrorCode::not_found, "no automation named '" + std::string(name) + "'");
        return {};
    });
}

Result<void> SqlStorage::release_automation(std::string_view tenant_id, std::string_view name, bool may_exist) {
    return guarded<void>("release automation", [&]() -> Result<void> {
        auto st = db_->cached(may_exist ? "UPDATE automations SET updated_at = 0 WHERE tenant_id = ?1 AND name = ?2"
                                          " AND automation_id = ''"
                                        : "DELETE FROM automations WHERE tenant_id = ?1 AND name = ?2 AND automation_id = ''");
        st->bind(1, tenant_id).bind(2, name);
        st->run();
        return {};
    });
}

}  // namespace rollout_mcp::storage
