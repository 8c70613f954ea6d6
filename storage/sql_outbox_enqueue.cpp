// SqlStorage: accepting syncs into the outbox (docs/ARCHITECTURE.md, "One sync_tour_data call", step 7): a request's
// jobs in one transaction, with idempotency keys, each distinct payload sealed once and shared by its jobs, a
// per-tenant queue cap, and the claims the accepting worker asked for; requests accepted together share a commit.
#include "storage/sql_storage.hpp"

#include "storage/postgres_listener.hpp"

#include <algorithm>
#include <map>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;
using detail::kSyncPayloadKind;

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

// Job ids are "job_" + hex (detail::time_ordered_id): JSON-safe without escaping.
std::string json_id_array(const std::vector<std::string>& ids) {
    std::string out = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? ",\"" : "\"") + ids[i] + "\"";
    return out + "]";
}

}  // namespace

Result<EnqueueResult> SqlStorage::enqueue_in_transaction(const SyncRequest& request, std::int64_t now_ms) {
    if (auto v = validate_request(request); !v) return v.error();
    // Each job's payload text: its own, or the request's shared one.
    const auto payload_of = [&](const NewSyncJob& j) -> const std::string& {
        return j.payload_json.empty() ? request.payload_json : j.payload_json;
    };
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
        id = detail::time_ordered_id("pay_", now_ms);
        const auto sealed = seal_row({request.tenant_id, kSyncPayloadKind, id},
                                     std::span<const unsigned char>(
                                         reinterpret_cast<const unsigned char*>(text.data()), text.size()));
        put_payload->bind(1, id).bind(2, request.tenant_id).bind(3, std::int64_t{sealed.key_id});
        put_payload->bind(4, sealed.nonce).bind(5, sealed.ciphertext).bind(6, now_ms);
        put_payload->run();
        put_payload->reset();
    }
    const std::string batch_id = detail::time_ordered_id("bat_", now_ms);
    // Jobs the accepting instance can run now are written claimed (running, attempt 1, claim token 1): one durable
    // commit instead of two, no due scan, and no second write of the row (README "Sync path CPU"). The claim rules
    // are claim_sync_jobs' own (claim_at_enqueue), under the same team lock.
    const bool claiming = std::any_of(request.jobs.begin(), request.jobs.end(), [](const auto& j) { return j.claim; });
    if (claiming && db_->dialect() == Dialect::postgresql) db_->lock_for_transaction("claim " + request.tenant_id);
    static const std::string insert_sql =
        std::string("INSERT INTO sync_jobs(id, tenant_id, batch_id, kind, crm_type, subject, tour_id, lock_key,"
                    " payload_id, status, attempts, lease_until, claim_token, next_attempt_at, created_at, updated_at,"
                    " traceparent, tracestate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                    " CASE WHEN ?13 = 1 THEN 'running' ELSE 'queued' END, ?13, CASE WHEN ?13 = 1 THEN ?14 END, ?13,"
                    " ?10, ?10, ?10, ?11, ?12) RETURNING ") +
        detail::kSyncJobColumns + ", claim_token, (SELECT config_version FROM tenants WHERE tenants.id = ?2)";
    auto ins = db_->cached(insert_sql.c_str());
    std::vector<std::string> queued;
    for (const NewSyncJob& j : request.jobs) {
        std::string id = detail::time_ordered_id("job_", now_ms);
        const bool claimed = j.claim && claim_at_enqueue(request.tenant_id, batch_id, j, now_ms);
        ins->bind(1, id).bind(2, request.tenant_id).bind(3, batch_id);
        ins->bind(4, j.kind).bind(5, j.crm_type).bind(6, j.subject).bind(7, j.tour_id).bind(8, j.lock_key);
        ins->bind(9, payload_ids.at(payload_of(j))).bind(10, now_ms);
        ins->bind(11, request.traceparent).bind(12, request.tracestate);
        ins->bind(13, std::int64_t{claimed ? 1 : 0}).bind(14, request.claim_lease_until_ms);
        if (!ins->step()) throw std::logic_error("an inserted sync job returned no row");
        if (claimed) {
            // The payload is the caller's own text, already in hand: nothing to open.
            const std::string& text = payload_of(j);
            ClaimedJob job{detail::sync_job_from(*ins), crypto::WipedBuffer(text.size()),
                           ins->int64(detail::kSyncJobColumnCount), ins->int64(detail::kSyncJobColumnCount + 1)};
            std::copy(text.begin(), text.end(), job.payload.data());
            out.claimed.push_back(std::move(job));
        } else {
            queued.push_back(id);
        }
        while (ins->step()) {
        }
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
    notify_others(kJobsQueuedChannel, queued);
    return out;
}


Result<EnqueueResult> SqlStorage::enqueue_sync(const SyncRequest& request, std::int64_t now_ms) {
    return guarded<EnqueueResult>("enqueue sync", [&]() -> Result<EnqueueResult> {
        Transaction tx(*db_);
        auto out = enqueue_in_transaction(request, now_ms);
        if (out) tx.commit();
        return out;
    });
}

std::vector<Result<EnqueueResult>> SqlStorage::enqueue_syncs(std::span<const SyncRequest> requests, std::int64_t now_ms) {
    std::vector<Result<EnqueueResult>> out;
    out.reserve(requests.size());
    // PostgreSQL: a transaction each. One transaction would hold every team's enqueue and claim locks until the
    // last request is written, holding back other instances' enqueues and claims of those teams meanwhile.
    // Each request its own millisecond, so that jobs accepted together keep their arrival order in the due order;
    // counted back from now_ms, never ahead of it: a job due in the future would wait for the next poll.
    std::int64_t now = now_ms - static_cast<std::int64_t>(requests.size()) + 1;
    if (db_->dialect() == Dialect::postgresql) {
        for (const SyncRequest& r : requests) {
            try {
                out.push_back(enqueue_sync(r, now++));
            } catch (const std::exception& e) {   // enqueue_sync rolled back: this request alone
                Error failure = error(ErrorCode::database, std::string("enqueue sync: ") + e.what());
                out.emplace_back(std::move(failure));
            }
        }
        return out;
    }
    auto all = guarded<void>("enqueue syncs", [&]() -> Result<void> {
        out.clear();
        Transaction tx(*db_);   // durable: one disk wait for every request in it
        out = detail::each_in_savepoint<EnqueueResult>(*db_, requests, "enqueue sync", [&](const SyncRequest& r) {
            return enqueue_in_transaction(r, now++);
        });
        tx.commit();
        return {};
    });
    if (!all) {
        out.clear();
        for (std::size_t i = 0; i < requests.size(); ++i) out.push_back(all.error());
    }
    return out;
}

}  // namespace rollout_mcp::storage
