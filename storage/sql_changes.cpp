// SqlStorage: the per-team CRM change log (storage/crm_changes.hpp; README, "Changes from the CRM").
//
// Cursors must never skip a change, also with several instances on PostgreSQL, where transactions commit in any
// order. A sequence or identity column would not do: seq 8 may commit before seq 7, and a reader that saw 8 would
// move its cursor past 7 for good. Instead each append increments the team's row in crm_change_counters inside
// its own transaction: the row lock orders a team's appends, so they commit in seq order, and a reader bounds
// its read by the counter it saw (every seq up to it has committed). SQLite's writers run one at a time anyway.
#include "storage/sql_storage.hpp"

#include <algorithm>
#include <limits>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

bool valid_crm_change_kind(std::string_view kind) {
    return std::find(kCrmChangeKinds.begin(), kCrmChangeKinds.end(), kind) != kCrmChangeKinds.end();
}

namespace {

constexpr std::size_t kMaxIdBytes = 400;           // tour, visit, buyer and record ids (as rollout/limits.hpp)
constexpr std::size_t kMaxFieldsBytes = 64 * 1024;  // a change's fields JSON

std::int64_t clamp(std::size_t n) {
    return static_cast<std::int64_t>(std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
}

Result<void> check_change(const CrmChange& c) {
    if (!valid_crm_change_kind(c.kind)) return error(ErrorCode::invalid_argument, "kind: unknown change kind");
    if (!detail::valid_crm_type(c.crm_type)) return error(ErrorCode::invalid_argument, "crmType: not a canonical CRM type");
    for (const auto* f : {&c.tour_id, &c.visit_id, &c.buyer_id, &c.record_id, &c.credential_ref})
        if (f->size() > kMaxIdBytes) return error(ErrorCode::invalid_argument, "an id of the change is over 400 bytes");
    if (c.fields_json.size() > kMaxFieldsBytes) return error(ErrorCode::invalid_argument, "fields: over 64 KiB");
    const auto first = c.fields_json.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || c.fields_json[first] != '{')
        return error(ErrorCode::invalid_argument, "fields: not a JSON object");
    return {};
}

constexpr const char* kChangeColumns =
    "seq, id, kind, tour_id, visit_id, buyer_id, fields, crm_type, credential_ref, record_id, occurred_at, recorded_at";

CrmChange change_from(const Statement& st) {
    CrmChange c;
    c.seq = st.int64(0);
    c.id = st.text(1);
    c.kind = st.text(2);
    c.tour_id = st.text(3);
    c.visit_id = st.text(4);
    c.buyer_id = st.text(5);
    c.fields_json = st.text(6);
    c.crm_type = st.text(7);
    c.credential_ref = st.text(8);
    c.record_id = st.text(9);
    c.occurred_at_ms = st.int64(10);
    c.recorded_at_ms = st.int64(11);
    return c;
}

}  // namespace

Result<CrmChange> SqlStorage::append_crm_change_in_transaction(std::string_view tenant_id, const CrmChange& change,
                                                               std::int64_t now_ms) {
    if (auto ok = check_change(change); !ok) return ok.error();
    {
        auto valid = db_->cached("SELECT json_valid(?1)");
        valid->bind(1, std::string_view(change.fields_json));
        if (!valid->step() || valid->int64(0) != 1) return error(ErrorCode::invalid_argument, "fields: not valid JSON");
    }
    if (auto t = require_tenant(tenant_id); !t) return t.error();
    CrmChange out = change;
    {
        // The upsert takes the team's counter row lock until this transaction ends (see the file comment).
        auto next = db_->cached(
            "INSERT INTO crm_change_counters(tenant_id, last_seq, trimmed_through) VALUES (?1, 1, 0)"
            " ON CONFLICT(tenant_id) DO UPDATE SET last_seq = crm_change_counters.last_seq + 1 RETURNING last_seq");
        next->bind(1, tenant_id);
        if (!next->step()) return error(ErrorCode::database, "the change counter did not answer");
        out.seq = next->int64(0);
        while (next->step()) {
        }
    }
    out.id = detail::random_id("chg_");
    out.recorded_at_ms = now_ms;
    {
        auto ins = db_->cached(
            "INSERT INTO crm_changes(tenant_id, seq, id, kind, tour_id, visit_id, buyer_id, fields, crm_type,"
            " credential_ref, record_id, occurred_at, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
        ins->bind(1, tenant_id).bind(2, out.seq).bind(3, std::string_view(out.id)).bind(4, std::string_view(out.kind));
        ins->bind(5, std::string_view(out.tour_id)).bind(6, std::string_view(out.visit_id));
        ins->bind(7, std::string_view(out.buyer_id)).bind(8, std::string_view(out.fields_json));
        ins->bind(9, std::string_view(out.crm_type)).bind(10, std::string_view(out.credential_ref));
        ins->bind(11, std::string_view(out.record_id)).bind(12, out.occurred_at_ms).bind(13, now_ms);
        ins->run();
    }
    // The per-team cap: every seq at or below last - cap goes, and a cursor there answers truncated.
    const auto cap = clamp(std::max<std::size_t>(1, limits_.max_changes_per_tenant));
    if (out.seq > cap) {
        const std::int64_t through = out.seq - cap;
        auto del = db_->cached("DELETE FROM crm_changes WHERE tenant_id = ?1 AND seq <= ?2");
        del->bind(1, tenant_id).bind(2, through);
        del->run();
        auto mark = db_->cached(
            "UPDATE crm_change_counters SET trimmed_through = ?2 WHERE tenant_id = ?1 AND trimmed_through < ?2");
        mark->bind(1, tenant_id).bind(2, through);
        mark->run();
    }
    return out;
}

Result<CrmChange> SqlStorage::append_crm_change(std::string_view tenant_id, const CrmChange& change,
                                                std::int64_t now_ms) {
    return guarded<CrmChange>("append crm change", [&]() -> Result<CrmChange> {
        Transaction tx(*db_);
        auto out = append_crm_change_in_transaction(tenant_id, change, now_ms);
        if (!out) return out;
        tx.commit();
        return out;
    });
}

Result<CrmChangePage> SqlStorage::list_crm_changes(std::string_view tenant_id, std::optional<std::int64_t> after_seq,
                                                   std::size_t limit) {
    return guarded<CrmChangePage>("list crm changes", [&]() -> Result<CrmChangePage> {
        CrmChangePage page;
        std::int64_t trimmed = 0;
        {
            auto st = db_->cached("SELECT last_seq, trimmed_through FROM crm_change_counters WHERE tenant_id = ?1");
            st->bind(1, tenant_id);
            if (st->step()) {
                page.head = st->int64(0);
                trimmed = st->int64(1);
            }
        }
        if (after_seq && (*after_seq < 0 || *after_seq > page.head))
            return error(ErrorCode::invalid_argument, "the cursor is not one of this team's change log");
        const std::int64_t start = after_seq ? *after_seq : trimmed;
        page.truncated = after_seq && *after_seq < trimmed;
        page.cursor = start;
        // Bounded by the counter read above: every seq up to it has committed (see the file comment).
        static const std::string sql = std::string("SELECT ") + kChangeColumns +
                                       " FROM crm_changes WHERE tenant_id = ?1 AND seq > ?2 AND seq <= ?3"
                                       " ORDER BY seq LIMIT ?4";
        auto st = db_->cached(sql.c_str());
        st->bind(1, tenant_id).bind(2, start).bind(3, page.head).bind(4, clamp(limit));
        while (st->step()) page.changes.push_back(change_from(*st));
        if (!page.changes.empty()) page.cursor = page.changes.back().seq;
        return page;
    });
}

Result<std::size_t> SqlStorage::trim_crm_changes(std::int64_t before_ms, std::size_t max_rows) {
    return guarded<std::size_t>("trim crm changes", [&]() -> Result<std::size_t> {
        // One team per step: its oldest changes up to the newest one that is too old (a change recorded later by a
        // clock running behind goes with it: the cut is by seq, so trimmed_through stays exact).
        Transaction tx(*db_);
        std::string tenant;
        std::int64_t through = 0, oldest = 0;
        {
            auto st = db_->cached(
                "SELECT tenant_id, max(seq), min(seq) FROM crm_changes WHERE recorded_at < ?1 GROUP BY tenant_id LIMIT 1");
            st->bind(1, before_ms);
            if (!st->step()) return std::size_t{0};
            tenant = st->text(0);
            through = st->int64(1);
            oldest = st->int64(2);
        }
        through = std::min(through, oldest + clamp(std::max<std::size_t>(1, max_rows)) - 1);
        auto del = db_->cached("DELETE FROM crm_changes WHERE tenant_id = ?1 AND seq <= ?2");
        del->bind(1, std::string_view(tenant)).bind(2, through);
        del->run();
        const auto n = static_cast<std::size_t>(db_->changes());
        auto mark = db_->cached(
            "UPDATE crm_change_counters SET trimmed_through = ?2 WHERE tenant_id = ?1 AND trimmed_through < ?2");
        mark->bind(1, std::string_view(tenant)).bind(2, through);
        mark->run();
        tx.commit();
        return n;
    });
}

}  // namespace rollout_mcp::storage
