// SqlStorage: reading the CRM-id ledger (sync_ledger). Its rows are written with each attempt's outcome
// (sql_outbox.cpp), their crm_state also by processing Rollout's webhooks (sql_hook_inbox.cpp), and live as long
// as the team's connection to that CRM (delete_crm_connection in sql_secrets.cpp removes them with it; a deleted
// tenant's cascade removes the rest).
#include "storage/sql_storage.hpp"

#include <algorithm>
#include <set>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

namespace {

constexpr std::size_t kLedgerChunk = 200;  // well under SQLite's bound-parameter limit
constexpr std::size_t kMaxExternalIds = 1'000;

// The columns ledger_entry_from reads, in its order. crm_state and written_state NULL read as "" (unknown).
constexpr const char* kLedgerColumns = "entity_kind, local_id, external_id, payload_hash, crm_state, written_state";

LedgerEntry ledger_entry_from(const Statement& st) {
    return {st.text(0), st.text(1), st.text(2), st.blob(3), st.text(4), st.text(5)};
}

// The rows whose listed column is one of `values` (each asked once), a chunk at a time: the query is
// sql_before_list + "?first, ?first+1 ..." + sql_after_list; bind_fixed binds the parameters before those.
template <class Bind>
void read_in_chunks(Database& db, const std::string& sql_before_list, const std::string& sql_after_list,
                    int first_list_parameter, const std::vector<std::string>& values, Bind&& bind_fixed,
                    std::vector<LedgerEntry>& out) {
    const std::set<std::string_view> unique(values.begin(), values.end());
    const std::vector<std::string_view> ids(unique.begin(), unique.end());
    for (std::size_t from = 0; from < ids.size(); from += kLedgerChunk) {
        const std::size_t n = std::min(kLedgerChunk, ids.size() - from);
        std::string sql = sql_before_list;
        for (std::size_t i = 0; i < n; ++i)
            sql += (i ? ", ?" : "?") + std::to_string(static_cast<int>(i) + first_list_parameter);
        sql += sql_after_list;
        Statement st = db.prepare(sql);
        bind_fixed(st);
        for (std::size_t i = 0; i < n; ++i) st.bind(static_cast<int>(i) + first_list_parameter, ids[from + i]);
        while (st.step()) out.push_back(ledger_entry_from(st));
    }
}

}  // namespace

Result<std::vector<LedgerEntry>> SqlStorage::sync_ledger(std::string_view tenant_id, std::string_view crm_type,
                                                            const std::vector<std::string>& local_ids) {
    using Out = std::vector<LedgerEntry>;
    return guarded<Out>("sync ledger", [&]() -> Result<Out> {
        Out out;
        read_in_chunks(*db_,
                       std::string("SELECT ") + kLedgerColumns +
                           " FROM sync_ledger WHERE tenant_id = ?1 AND crm_type = ?2 AND local_id IN (",
                       ") ORDER BY local_id, entity_kind", 3, local_ids,
                       [&](Statement& st) { st.bind(1, tenant_id).bind(2, crm_type); }, out);
        return out;
    });
}

Result<std::vector<LedgerEntry>> SqlStorage::ledger_by_external_ids(std::string_view tenant_id,
                                                                    std::string_view crm_type,
                                                                    std::string_view entity_kind,
                                                                    const std::vector<std::string>& external_ids) {
    using Out = std::vector<LedgerEntry>;
    if (external_ids.size() > kMaxExternalIds)
        return error(ErrorCode::invalid_argument, "at most 1000 external ids at once");
    return guarded<Out>("ledger by external ids", [&]() -> Result<Out> {
        Out out;
        // sync_ledger_external (SQLite migration 11, PostgreSQL 6) serves this lookup.
        read_in_chunks(*db_,
                       std::string("SELECT ") + kLedgerColumns +
                           " FROM sync_ledger WHERE tenant_id = ?1 AND crm_type = ?2 AND entity_kind = ?3"
                           " AND external_id IN (",
                       ") ORDER BY external_id, local_id", 4, external_ids,
                       [&](Statement& st) { st.bind(1, tenant_id).bind(2, crm_type).bind(3, entity_kind); }, out);
        return out;
    });
}

Result<std::vector<LedgerEntry>> SqlStorage::sync_ledger_visits(std::string_view tenant_id,
                                                                   std::string_view crm_type,
                                                                   std::string_view tour_id) {
    using Out = std::vector<LedgerEntry>;
    return guarded<Out>("sync ledger visits", [&]() -> Result<Out> {
        // Visit local ids are "<tour>/<property>": a prefix compare (no LIKE, so '%' and '_' in ids are plain).
        static const std::string sql = std::string("SELECT ") + kLedgerColumns +
                                       " FROM sync_ledger WHERE tenant_id = ?1 AND crm_type = ?2"
                                       " AND entity_kind IN ('appointment', 'task')"
                                       " AND substr(local_id, 1, length(?3) + 1) = ?3 || '/' ORDER BY local_id";
        auto st = db_->cached(sql.c_str());
        st->bind(1, tenant_id).bind(2, crm_type).bind(3, tour_id);
        Out out;
        while (st->step()) out.push_back(ledger_entry_from(*st));
        return out;
    });
}

}  // namespace rollout_mcp::storage
