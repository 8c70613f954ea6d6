// SqlStorage: the sync outbox's worker path (docs/ARCHITECTURE.md, "The outbox state machine"): job rows, attempt
// outcomes (which upsert the CRM-id ledger; reads: sql_ledger.cpp). Enqueueing: sql_outbox_enqueue.cpp; fair due
// lists and claims: sql_outbox_claims.cpp.
#include "storage/sql_storage.hpp"

#include "storage/postgres_listener.hpp"

#include <sodium.h>

#include <algorithm>
#include <limits>
#include <map>


namespace rollout_mcp::storage {

using crypto::KeyId;
using crypto::RowIdentity;
using detail::error;
using detail::guarded;
using detail::kSyncJobKind;
using detail::kSyncPayloadKind;

std::string_view to_string(JobStatus status) {
    switch (status) {
        case JobStatus::queued: return "queued";
        case JobStatus::running: return "running";
        case JobStatus::succeeded: return "succeeded";
        case JobStatus::failed: return "failed";
        case JobStatus::dead: return "dead";
    }
    return "queued";
}

std::optional<JobStatus> job_status_from(std::string_view text) {
    for (JobStatus s : {JobStatus::queued, JobStatus::running, JobStatus::succeeded, JobStatus::failed,
                        JobStatus::dead})
        if (to_string(s) == text) return s;
    return std::nullopt;
}

namespace detail {

std::string random_id(std::string_view prefix) {
    crypto::ensure_sodium();
    unsigned char raw[12];
    randombytes_buf(raw, sizeof raw);
    char hex[sizeof raw * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    return std::string(prefix) + hex;
}

std::string time_ordered_id(std::string_view prefix, std::int64_t now_ms) {
    static constexpr char kHex[] = "0123456789abcdef";
    const auto time = static_cast<std::uint64_t>(std::max<std::int64_t>(now_ms, 0));
    std::string out(prefix);
    for (int shift = 44; shift >= 0; shift -= 4) out += kHex[(time >> shift) & 0xf];   // 48 bits, big-endian
    return out + random_id({});
}

SyncJobInfo sync_job_from(const Statement& st) {
    SyncJobInfo j;
    j.id = st.text(0);
    j.tenant_id = st.text(1);
    j.kind = st.text(2);
    j.crm_type = st.text(3);
    j.subject = st.text(4);
    j.tour_id = st.text(5);
    j.lock_key = st.text(6);
    // The CHECK constraint admits only known statuses.
    j.status = job_status_from(st.text(7)).value_or(JobStatus::queued);
    j.attempts = static_cast<int>(st.int64(8));
    j.next_attempt_at_ms = st.int64(9);
    j.created_at_ms = st.int64(10);
    j.updated_at_ms = st.int64(11);
    j.finished_at_ms = st.optional_int64(12);
    j.last_error = st.text(13);
    j.last_http_status = static_cast<unsigned>(st.int64(14));
    j.result_json = st.text(15);
    j.recover = st.int64(16) != 0;
    j.traceparent = st.text(17);
    j.tracestate = st.text(18);
    return j;
}

}  // namespace detail

Result<SyncJobInfo> SqlStorage::load_sync_job(std::string_view job_id) {
    static const std::string sql =
        std::string("SELECT ") + detail::kSyncJobColumns + " FROM sync_jobs WHERE id = ?1";
    auto st = db_->cached(sql.c_str());
    st->bind(1, job_id);
    if (!st->step()) return error(ErrorCode::not_found, "no sync job '" + std::string(job_id) + "'");
    return detail::sync_job_from(*st);
}

Result<SyncJobInfo> SqlStorage::finish_sync_attempt(std::string_view job_id, std::int64_t claim_token,
                                                       const AttemptOutcome& outcome, std::int64_t now_ms) {
    return guarded<SyncJobInfo>("finish sync attempt", [&]() -> Result<SyncJobInfo> {
        // Not waiting for the disk: the claim this attempt ran under was committed durably before any CRM call, so
        // if power loss undoes this commit the job is found 'running' again and re-driven with recover, which finds
        // what the attempt wrote by its markers (README "Which commits wait for the disk").
        Transaction tx(*db_, Transaction::Durability::unsynced);
        auto info = record_attempt(job_id, claim_token, outcome, now_ms);
        if (info) tx.commit();
        return info;
    });
}

std::vector<Result<SyncJobInfo>> SqlStorage::finish_sync_attempts(std::span<const FinishAttempt> attempts) {
    std::vector<Result<SyncJobInfo>> out;
    out.reserve(attempts.size());
    // PostgreSQL: one transaction each. Its commits already skip the disk wait and it logs rows, not pages, so a
    // shared commit saves little, while a long transaction of savepoints would hold row locks for the whole batch
    // and overflow the backend's cache of subtransactions (64) when many attempts end together.
    if (db_->dialect() == Dialect::postgresql) {
        for (const FinishAttempt& a : attempts) out.push_back(finish_sync_attempt(a.job_id, a.claim_token, a.outcome, a.now_ms));
        return out;
    }
    auto all = guarded<void>("finish sync attempts", [&]() -> Result<void> {
        out.clear();
        Transaction tx(*db_, Transaction::Durability::unsynced);   // as finish_sync_attempt
        out = detail::each_in_savepoint<SyncJobInfo>(*db_, attempts, "finish sync attempt", [&](const FinishAttempt& a) {
            return record_attempt(a.job_id, a.claim_token, a.outcome, a.now_ms);
        });
        tx.commit();
        return {};
    });
    if (!all) out.assign(attempts.size(), Result<SyncJobInfo>(all.error()));
    return out;
}

Result<SyncJobInfo> SqlStorage::record_attempt(std::string_view job_id, std::int64_t claim_token,
                                               const AttemptOutcome& outcome, std::int64_t now_ms) {
    for (const LedgerEntry& e : outcome.ledger)
        if (e.entity_kind.empty() || e.local_id.empty())
            return error(ErrorCode::invalid_argument,
                                    "ledger entries need an entity_kind and a local_id");
    using Next = AttemptOutcome::Next;
    const JobStatus status = outcome.next == Next::succeed ? JobStatus::succeeded
                             : outcome.next == Next::retry ? JobStatus::queued
                             : outcome.next == Next::fail  ? JobStatus::failed
                                                           : JobStatus::dead;
    std::string tenant_id, crm_type;
    {
        auto st = db_->cached(
            "SELECT tenant_id, crm_type FROM sync_jobs WHERE id = ?1 AND status = 'running' AND claim_token = ?2");
        st->bind(1, job_id).bind(2, claim_token);
        // Not running, or running under a newer claim: this attempt lost its claim (fencing) and must
        // neither mark the job nor write the ledger.
        if (!st->step())
            return error(ErrorCode::not_found, "sync job '" + std::string(job_id) +
                                                              "' is not running under this claim");
        tenant_id = st->text(0);
        crm_type = st->text(1);
    }
    {
        // recover: a retry carries the worker's verdict; a failed or dead job keeps any doubt it
        // had, for a manual retry that comes long after the worker's context is gone.
        auto upd = db_->cached(
            "UPDATE sync_jobs SET status = ?2, updated_at = ?3, lease_until = NULL,"
            " finished_at = CASE WHEN ?2 = 'queued' THEN NULL ELSE ?3 END,"
            " next_attempt_at = CASE WHEN ?2 = 'queued' THEN ?4 ELSE next_attempt_at END,"
            " last_error = ?5, last_http_status = ?6,"
            " result = CASE WHEN ?7 = '' THEN result ELSE ?7 END,"
            " recover = CASE ?2 WHEN 'succeeded' THEN 0 WHEN 'queued' THEN ?8 ELSE CASE WHEN recover = 1 OR ?8 = 1 THEN 1 ELSE 0 END END,"
            " alert_pending = CASE WHEN ?2 = 'dead' THEN 1 ELSE 0 END, alert_attempts = 0,"
            " alert_next_at = CASE WHEN ?2 = 'dead' THEN ?3 ELSE alert_next_at END"
            " WHERE id = ?1 AND status = 'running' AND claim_token = ?9");
        upd->bind(1, job_id).bind(2, to_string(status)).bind(3, now_ms).bind(4, outcome.next_attempt_at_ms);
        // "" rather than an empty view: a null text pointer would bind SQL NULL.
        upd->bind(5, status == JobStatus::succeeded ? std::string_view("") : std::string_view(outcome.error));
        upd->bind(6, std::int64_t{outcome.http_status}).bind(7, outcome.result_json);
        upd->bind(8, std::int64_t{outcome.recover ? 1 : 0}).bind(9, claim_token);
        upd->run();
        // The token again, in the UPDATE that holds the row: on PostgreSQL another instance may have claimed
        // the job (its lease expired) between the SELECT above and here.
        if (db_->changes() != 1)
            return error(ErrorCode::not_found, "sync job '" + std::string(job_id) + "' is not running under this claim");
    }
    // Empty ids, hashes or CRM states never overwrite known ones: a partial attempt must not erase progress. The
    // CRM's answer to our write is what it has now (crm_state) and, but for the fields an update kept as the CRM's
    // users set them, what we last wrote (written_state).
    auto led = db_->cached(
        "INSERT INTO sync_ledger(tenant_id, crm_type, entity_kind, local_id, external_id, payload_hash,"
        " created_at, updated_at, crm_state, written_state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)"
        " ON CONFLICT(tenant_id, crm_type, local_id, entity_kind) DO UPDATE SET"
        " external_id = CASE WHEN excluded.external_id <> '' THEN excluded.external_id ELSE sync_ledger.external_id END,"
        " payload_hash = coalesce(excluded.payload_hash, sync_ledger.payload_hash), updated_at = excluded.updated_at,"
        " crm_state = coalesce(excluded.crm_state, sync_ledger.crm_state),"
        " written_state = coalesce(excluded.written_state, sync_ledger.written_state)");
    for (const LedgerEntry& e : outcome.ledger) {
        led->bind(1, tenant_id).bind(2, crm_type).bind(3, e.entity_kind).bind(4, e.local_id);
        led->bind(5, e.external_id).bind(7, now_ms);
        if (e.payload_hash.empty())
            led->bind_null(6);
        else
            led->bind(6, std::span<const unsigned char>(e.payload_hash));
        if (e.crm_state.empty())
            led->bind_null(8);
        else
            led->bind(8, std::string_view(e.crm_state));
        // What we wrote: the CRM's answer, except fields an update left as the CRM's users set them.
        const std::string& written = e.written_state.empty() ? e.crm_state : e.written_state;
        if (written.empty())
            led->bind_null(9);
        else
            led->bind(9, std::string_view(written));
        led->run();
        led->reset();
    }
    auto info = load_sync_job(job_id);
    if (!info) return info.error();
    notify_others(kJobAttemptChannel, {std::string(job_id)});
    return info;
}


}  // namespace rollout_mcp::storage
