// The durable sync outbox's data types (docs/ARCHITECTURE.md, "The outbox state machine"): jobs written with the call
// that accepts a sync, claims that survive a crash, per-attempt outcomes, the CRM-id ledger and dead-job alerts.
#pragma once

#include "crypto/secret_bytes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::storage {

// queued: waiting for its (next) attempt; running: claimed by a worker (lease_until bounds the claim);
// succeeded; failed: a permanent error (not retried unless asked); dead: retries exhausted (alerted).
enum class JobStatus { queued, running, succeeded, failed, dead };
std::string_view to_string(JobStatus status);
std::optional<JobStatus> job_status_from(std::string_view text);

struct NewSyncJob {
    std::string crm_type;      // canonical connector key
    std::string kind;          // "tour" | "feedback"
    std::string subject;       // tour id, or the feedback's local id "<tour>/<property>/<buyer or tour-<tour>>"
    std::string tour_id;
    std::string lock_key;      // jobs with the same (tenant, crm_type, lock_key) never run at the same time
    std::string payload_json;  // what to write (client names, addresses, feedback): sealed at rest; empty:
                               // the request's shared payload_json
    bool claim = false;        // claim it in the same transaction (SyncRequest::claim_lease_until_ms), if the
                               // claim rules of claim_sync_jobs allow; otherwise it stays queued
};

// One accepted tool call: its jobs are written in one transaction. Each distinct payload text is stored
// once (one sync_payloads row) and shared by the jobs that carry it.
struct SyncRequest {
    std::string tenant_id;
    std::optional<std::string> idempotency_key;  // unique per tenant
    std::vector<unsigned char> args_hash;        // 32 bytes; a reused key must come with the same hash
    std::vector<NewSyncJob> jobs;
    std::string payload_json = {};               // for the jobs whose own payload_json is empty
    std::string traceparent = {};                // W3C trace context of the accepting call, validated by the
    std::string tracestate = {};                 // caller ("" when none); sent on the jobs' Rollout calls
    std::int64_t claim_lease_until_ms = 0;       // the lease of the jobs with `claim` set
};

struct SyncJobInfo {
    std::string id;  // "job_" + 36 hex characters: the enqueue's millisecond (12), then random (24)
    std::string tenant_id;
    std::string kind;
    std::string crm_type;
    std::string subject;
    std::string tour_id;
    std::string lock_key;
    JobStatus status = JobStatus::queued;
    int attempts = 0;                  // attempts started (a claim counts one)
    std::int64_t next_attempt_at_ms = 0;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    std::optional<std::int64_t> finished_at_ms;  // succeeded / failed / dead
    std::string last_error;            // "" when none; the CRM's or Rollout's own message
    unsigned last_http_status = 0;
    std::string result_json;           // JSON array of records of the last attempt ("" before any)
    bool recover = false;              // the next attempt must look records up by marker first
    std::string traceparent;           // the accepting call's W3C trace context ("" when none)
    std::string tracestate;
};

// A durable handle over some sync jobs of one tenant (an MCP task, docs/ARCHITECTURE.md "Tasks"): its state is
// derived from the jobs', so it needs no updates of its own besides a cancellation request.
struct SyncTask {
    std::string id;                    // chosen by the caller: >= 128 random bits
    std::string tenant_id;
    std::vector<std::string> job_ids;  // at least one, all of this tenant
    std::string context_json;          // the caller's own JSON (how to describe the result); opaque here
    std::int64_t created_at_ms = 0;
    bool cancel_requested = false;
    // Frozen outcome (the caller's own text), once the caller saw the task finished: "" while it is not.
    std::string final_status;
    std::string final_result;
    std::int64_t finished_at_ms = 0;
};

// A due job as offered to the scheduler (no payload).
struct DueJob {
    std::string id;
    std::string tenant_id;
    std::string crm_type;
    std::string lock_key;
    std::string tour_id;   // jobs of one tour (or one lock key) never run at once in one CRM
};

struct ClaimedJob {
    SyncJobInfo info;                  // status running, attempts already incremented
    crypto::WipedBuffer payload;       // the opened payload_json (client data: wiped, not guarded memory)
    std::int64_t claim_token = 0;      // fencing token: finish_sync_attempt needs it
    std::int64_t config_version = 0;   // the team's at the claim (storage/team_config.hpp)
};

struct EnqueueResult {
    std::vector<std::string> job_ids;  // request.jobs order; on a replay, the first call's jobs
    bool replayed = false;             // the idempotency key was seen before with the same arguments
    std::vector<ClaimedJob> claimed;  // jobs claimed with the enqueue (never on a replay), request order
};

struct LedgerEntry {
    std::string entity_kind;           // person | appointment | task | note | tour | feedback
    std::string local_id;
    std::string external_id;           // "" for the tour/feedback payload rows
    std::vector<unsigned char> payload_hash;  // may be empty
    // The watched fields of the CRM record as we last wrote or saw it (a JSON object's text; "" = unknown). An
    // upsert that brings "" keeps the stored one (processing Rollout's webhooks compares against it).
    std::string crm_state = {};
    // The watched fields as the CRM answered our last write (set only by a sync attempt's upsert, never by webhook
    // processing; "" = unknown). A field where crm_state differs from it was changed in the CRM since that write,
    // and a later update keeps the CRM's value (README, "Changes from the CRM": keptFromCrm).
    std::string written_state = {};
};

struct AttemptOutcome {
    enum class Next { succeed, retry, fail, die };
    Next next = Next::succeed;
    std::int64_t next_attempt_at_ms = 0;  // retry: when
    std::string error;                    // retry / fail / die: what went wrong (no secrets)
    unsigned http_status = 0;
    bool recover = false;                 // retry: the attempt may have written; look up markers next time
    std::string result_json;              // JSON array of the records done in this attempt
    std::vector<LedgerEntry> ledger;      // upserted in the same transaction (also on failure: progress)
};

// One attempt to record with Storage::finish_sync_attempts (the arguments of finish_sync_attempt).
struct FinishAttempt {
    std::string job_id;
    std::int64_t claim_token = 0;
    AttemptOutcome outcome;
    std::int64_t now_ms = 0;
};

struct SyncJobQuery {
    std::optional<std::string> tenant_id;   // always set for team-facing queries
    std::optional<std::string> job_id;
    std::optional<std::string> tour_id;     // tour jobs of that tour and feedback jobs on it
    std::optional<std::string> subject;     // exact subject (tour id or feedback local id)
    std::optional<std::string> kind;
    std::optional<JobStatus> status;
    std::size_t limit = 100;                // newest first
};

struct OutboxStats {
    std::int64_t queued = 0, running = 0, succeeded = 0, failed = 0, dead = 0;
    std::int64_t due = 0;                    // queued with next_attempt_at <= now
    std::int64_t oldest_due_age_ms = 0;      // 0 when nothing is due
    std::int64_t alerts_pending = 0;
};

// How long finished rows are kept (Unix milliseconds: rows older than these are purged).
struct PurgePolicy {
    std::int64_t succeeded_before_ms = 0;    // succeeded jobs finished before this
    std::int64_t failed_before_ms = 0;       // failed and dead jobs finished before this
    std::int64_t requests_before_ms = 0;     // idempotency keys (sync_requests) and tasks created before this
    std::int64_t tombstones_before_ms = 0;   // tombstones of purged jobs purged before this
};

struct PurgeProgress {
    std::size_t jobs = 0, payloads = 0, requests = 0, tombstones = 0;
    bool done = false;                       // nothing more to purge under this policy
    std::size_t rows() const { return jobs + payloads + requests + tombstones; }
};

// What is left of a purged job: get_sync_status answers it as expired.
struct SyncJobTombstone {
    std::string id;
    std::string tenant_id;
    std::int64_t purged_at_ms = 0;
};

// A dead job whose alert has not been delivered yet.
struct PendingAlert {
    SyncJobInfo job;
    int alert_attempts = 0;
    std::int64_t claimed_until_ms = 0;   // claim_alerts: the claim's lease, and its fencing token for finish_alert
};

}  // namespace rollout_mcp::storage
