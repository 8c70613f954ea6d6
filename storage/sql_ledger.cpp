// SqlStorage: reading the CRM-id ledger (sync_ledger). Its rows are written with each attempt's outcome
// (sql_outbox.cpp) and live as long as the team's connection to that CRM (delete_crm_connection in
// sql_secrets.cpp removes them with it; a deleted tenant's cascade removes the rest).
#include "storage/sql_storage.hpp"

#include <algorithm>
#include <set>

namespace rollout_mcp::storage {

using detail::guarded;

namespace {

constexpr std::size_t kLedgerChunk = 200;  // well under SQLite's bound-parameter limit

}  // namespace

Result<std::vector<LedgerEntry>> SqlStorage::sync_ledger(std::string_view tenant_id, std::string_view crm_type,
                                                            const std::vector<std::string>& local_ids) {
    using Out = std::vector<LedgerEntry>;
    return guarded<Out>("sync ledger", [&]() -> Result<Out> {
        const std::set<std::string_view> unique(local_ids.begin(), local_ids.end());
        const std::vector<std::string_view> ids(unique.begin(), unique.end());
        Out out;
        for (std::size_t from = 0; from < ids.size(); from += kLedgerChunk) {
            const std::size_t n = std::min(kLedgerChunk, ids.size() - from);
            std::string sql =
                "SELECT entity_kind, local_id, external_id, payload_hash FROM sync_ledger"
                " WHERE tenant_id = ?1 AND crm_type = ?2 AND local_id IN (";
            for (std::size_t i = 0; i < n; ++i) sql += (i ? ", ?" : "?") + std::to_string(i + 3);
            sql += ") ORDER BY local_id, entity_kind";
            Statement st = db_->prepare(sql);
            st.bind(1, tenant_id).bind(2, crm_type);
            for (std::size_t i = 0; i < n; ++i) st.bind(static_cast<int>(i + 3), ids[from + i]);
            while (st.step()) out.push_back({st.text(0), st.text(1), st.text(2), st.blob(3)});
        }
        return out;
    });
}

Result<std::vector<LedgerEntry>> SqlStorage::sync_ledger_visits(std::string_view tenant_id,
                                                                   std::string_view crm_type,
                                                                   std::string_view tour_id) {
    using Out = std::vector<LedgerEntry>;
    return guarded<Out>("sync ledger visits", [&]() -> Result<Out> {
        // Visit local ids are "<tour>/<property>": a prefix compare (no LIKE, so '%' and '_' in ids are plain).
        auto st = db_->cached(
            "SELECT entity_kind, local_id, external_id, payload_hash FROM sync_ledger"
            " WHERE tenant_id = ?1 AND crm_type = ?2 AND entity_kind IN ('appointment', 'task')"
            " AND substr(local_id, 1, length(?3) + 1) = ?3 || '/' ORDER BY local_id");
        st->bind(1, tenant_id).bind(2, crm_type).bind(3, tour_id);
        Out out;
        while (st->step()) out.push_back({st->text(0), st->text(1), st->text(2), st->blob(3)});
        return out;
    });
}

}  // namespace rollout_mcp::storage
