// SqlStorage: the sync outbox's worker path (docs/ARCHITECTURE.md, "The outbox state machine"): enqueueing jobs
// with idempotency keys (each distinct payload sealed once, shared by its jobs; a per-tenant queue cap), fair due
// lists and claims (sql_outbox_claims.cpp), attempt outcomes (which upsert the CRM-id ledger; reads: sql_ledger.cpp).
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

namespace {

constexpr std::size_t kMaxJobsPerRequest = 64;
constexpr std::size_t kMaxIdempotencyKey = 200;


Result<void> invalid(std::string message) {
    return error(ErrorCode::invalid_argument, std::move(message));
}

// Checks that need no database; the messages name the offending field.
Result<void> validate_request(const SyncRequest& r) {
    if (r.jobs.empty() || r.jobs.size() > kMaxJobsPerRequest)
        return invalid("jobs: a sync request has 1-64 jobs, not " + std::to_string(r.jobs.size()));
    if (r.idempotency_key) {
        if (r.idempotency_key->empty() || r.idempotency_key->size() > kMaxIdempotencyKey)
            return invalid("idempotencyKey must be 1-200 bytes");
        if (r.args_hash.size() != 32)
            return invalid("args_hash must be 32 bytes when an idempotency key is given");
    }
    for (std::size_t i = 0; i < r.jobs.size(); ++i) {
        const NewSyncJob& j = r.jobs[i];
        const std::string field = "jobs[" + std::to_string(i) + "].";
        if (!detail::valid_crm_type(j.crm_type))
            return invalid(field + "crm_type must be 1-64 characters of [a-z0-9_-] (canonical name)");
        if (j.kind != "tour" && j.kind != "feedback")
            return invalid(field + "kind must be \"tour\" or \"feedback\"");
        if (j.subject.empty()) return invalid(field + "subject must not be empty");
        if (j.lock_key.empty()) return invalid(field + "lock_key must not be empty");
    }
    return {};
}

// Job ids are "job_" + hex: JSON-safe without escaping.
std::string json_id_array(const std::vector<std::string>& ids) {
    std::string out = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? ",\"" : "\"") + ids[i] + "\"";
    return out + "]";
}

}  // namespace

Result<SyncJobInfo> SqlStorage::load_sync_job(std::string_view job_id) {
    static const std::string sql =
        std::string("SELECT ") + detail::kSyncJobColumns + " FROM sync_jobs WHERE id = ?1";
    auto st = db_->cached(sql.c_str());
    st->bind(1, job_id);
    if (!st->step()) return error(ErrorCode::not_found, "no sync job '" + std::string(job_id) + "'");
    return detail::sync_job_from(*st);
}

Result<EnqueueResult> SqlStorage::enqueue_sync(const SyncRequest& request, std::int64_t now_ms) {
    if (auto v = validate_request(request); !v) return v.error();
    // Each job's payload text: its own, or the request's shared one.
    const auto payload_of = [&](const NewSyncJob& j) -> const std::string& {
        return j.payload_json.empty() ? request.payload_json : j.payload_json;
    };
    return guarded<EnqueueResult>("enqueue sync", [&]() -> Result<EnqueueResult> {
        Transaction tx(*db_);
        // One enqueue per team at a time across instances: the queue cap counts exactly, and a second call with
        // the same idempotency key waits for the first and then replays it.
        db_->lock_for_transaction("enqueue " + request.tenant_id);
        if (auto t = require_tenant(request.tenant_id); !t) return t.error();
        // Distinct payloads, each checked and (below) stored once.
        std::map<std::string_view, std::string> payload_ids;
        for (std::size_t i = 0; i < request.jobs.size(); ++i) {
            const std::string& text = payload_of(request.jobs[i]);
            if (payload_ids.count(text)) continue;
            auto valid = db_->cached("SELECT json_valid(?1)");
            valid->bind(1, text);
            if (!valid->step() || valid->int64(0) != 1)
                return error(ErrorCode::invalid_argument,
                                        "jobs[" + std::to_string(i) + "].payload_json must be valid JSON");
            payload_ids.emplace(text, std::string());
        }
        EnqueueResult out;
        if (request.idempotency_key) {
            auto seen = db_->cached(
                "SELECT args_hash, job_ids FROM sync_requests WHERE tenant_id = ?1 AND idempotency_key = ?2");
            seen->bind(1, request.tenant_id).bind(2, *request.idempotency_key);
            if (seen->step()) {
                if (seen->blob(0) != request.args_hash)
                    return error(ErrorCode::already_exists,
                                            "idempotencyKey \"" + *request.idempotency_key +
                                                "\" was already used with different arguments");
                auto ids = db_->cached("SELECT value FROM json_each(?1) ORDER BY key");
                ids->bind(1, seen->text(1));
                while (ids->step()) out.job_ids.push_back(ids->text(0));
                out.replayed = true;
                return out;  // nothing written: the rollback is a no-op
            }
        }
        {
            // A replay above is always answered; new work waits until the team's queue drains.
            auto pending = db_->cached(
                "SELECT count(*) FROM sync_jobs WHERE tenant_id = ?1 AND status IN ('queued', 'running')");
            pending->bind(1, request.tenant_id);
            const std::int64_t queued = pending->step() ? pending->int64(0) : 0;
            const auto cap = limits_.max_queued_jobs_per_tenant;
            if (static_cast<std::size_t>(queued) + request.jobs.size() > cap)
                return error(ErrorCode::limit_exceeded,
                                        "this team has " + std::to_string(queued) +
                                            " sync jobs queued or running and may have at most " +
                                            std::to_string(cap) +
                                            " ([sync] max_queued_per_team); retry later, once some have finished");
        }
        if (auto k = follow_active_key(); !k) return k.error();
        auto put_payload = db_->cached(
            "INSERT INTO sync_payloads(id, tenant_id, key_id, nonce, ciphertext, created_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        for (auto& [text, id] : payload_ids) {
            id = detail::random_id("pay_");
            const auto sealed = seal_row({request.tenant_id, kSyncPayloadKind, id},
                                         std::span<const unsigned char>(
                                             reinterpret_cast<const unsigned char*>(text.data()), text.size()));
            put_payload->bind(1, id).bind(2, request.tenant_id).bind(3, std::int64_t{sealed.key_id});
            put_payload->bind(4, sealed.nonce).bind(5, sealed.ciphertext).bind(6, now_ms);
            put_payload->run();
            put_payload->reset();
        }
        const std::string batch_id = detail::random_id("bat_");
        auto ins = db_->cached(
            "INSERT INTO sync_jobs(id, tenant_id, batch_id, kind, crm_type, subject, tour_id, lock_key,"
            " payload_id, status, next_attempt_at, created_at, updated_at, traceparent, tracestate)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?10, ?10, ?11, ?12)");
        for (const NewSyncJob& j : request.jobs) {
            std::string id = detail::random_id("job_");
            ins->bind(1, id).bind(2, request.tenant_id).bind(3, batch_id);
            ins->bind(4, j.kind).bind(5, j.crm_type).bind(6, j.subject).bind(7, j.tour_id).bind(8, j.lock_key);
            ins->bind(9, payload_ids.at(payload_of(j))).bind(10, now_ms);
            ins->bind(11, request.traceparent).bind(12, request.tracestate);
            ins->run();
            ins->reset();
            out.job_ids.push_back(std::move(id));
        }
        if (request.idempotency_key) {
            auto req = db_->cached(
                "INSERT INTO sync_requests(tenant_id, idempotency_key, args_hash, batch_id, job_ids, created_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
            req->bind(1, request.tenant_id).bind(2, *request.idempotency_key).bind(3, request.args_hash);
            req->bind(4, batch_id).bind(5, json_id_array(out.job_ids)).bind(6, now_ms);
            req->run();
        }
        // Jobs the accepting instance can run now are claimed here: one durable commit instead of two, and no due
        // scan (README "Sync path CPU"). The claim rules are claim_sync_jobs' own, under the same team lock.
        std::vector<std::string> queued;
        const bool claiming = std::any_of(request.jobs.begin(), request.jobs.end(), [](const auto& j) { return j.claim; });
        if (claiming && db_->dialect() == Dialect::postgresql) db_->lock_for_transaction("claim " + request.tenant_id);
        for (std::size_t i = 0; i < request.jobs.size(); ++i) {
            std::optional<ClaimedJob> claimed;
            if (request.jobs[i].claim)
                claimed = claim_new_job(out.job_ids[i], payload_of(request.jobs[i]), now_ms, request.claim_lease_until_ms);
            if (claimed) out.claimed.push_back(std::move(*claimed));
            else queued.push_back(out.job_ids[i]);
        }
        notify_others(kJobsQueuedChannel, queued);
        tx.commit();
        return out;
    });
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
        for (const FinishAttempt& a : attempts) {
            db_->exec("SAVEPOINT finish_attempt");
            Result<SyncJobInfo> one = error(ErrorCode::database, "not recorded");
            bool undone = false;
            try {
                one = record_attempt(a.job_id, a.claim_token, a.outcome, a.now_ms);
            } catch (const SqlError& e) {
                // This attempt alone is undone, unless SQLite ended the whole transaction (a full disk, an I/O
                // error): then the batch fails with that cause, and nothing of it is committed.
                try {
                    db_->exec("ROLLBACK TO finish_attempt");
                } catch (const SqlError&) {
                    throw e;
                }
                undone = true;
                one = detail::from_sql(e, "finish sync attempt");
            }
            if (!one && !undone) db_->exec("ROLLBACK TO finish_attempt");
            db_->exec("RELEASE finish_attempt");
            out.push_back(std::move(one));
        }
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
        " ON CONFLICT(tenant_id, crm_type, entity_kind, local_id) DO UPDATE SET"
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
