// The Storage interface: tenant-scoped repositories (tenants, API keys, sealed Rollout configs and CRM
// connections, the sync outbox and ledger) and data-key administration. SQLite implements it today; PostgreSQL can later.
//
// Threading: every method is synchronous and blocking. Call them only on the storage executor (one
// dedicated thread); never from an I/O thread. Implementations are not thread-safe.
//
// Errors: data-dependent failures (unknown tenant, wrong key, tampered row, constraint, busy) come
// back as Error values (base/result.hpp) with a storage::ErrorCode; exceptions mean start-up failures or
// programmer errors.
#pragma once

#include "base/result.hpp"
#include "crypto/keyring.hpp"
#include "crypto/master_key.hpp"
#include "crypto/secret_bytes.hpp"
#include "storage/automations.hpp"
#include "storage/mcp_sessions.hpp"
#include "storage/crm_changes.hpp"
#include "storage/hooks.hpp"
#include "storage/outbox.hpp"
#include "storage/rate_buckets.hpp"
#include "storage/team_config.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace rollout_mcp::storage {

enum class ErrorCode {
    not_found = 1,     // no such tenant / key / row for this tenant
    already_exists,    // unique name or key taken
    invalid_argument,  // malformed name, crm type, JSON
    unauthenticated,   // API key missing, malformed, unknown, wrong or revoked (deliberately one code)
    crypto,            // a sealed row does not open (wrong key, tampered, moved); message names the row
    busy,              // database locked longer than busy_timeout; retry later
    limit_exceeded,    // a per-tenant cap (StorageLimits) is reached; the message names the setting
    database,          // any other SQLite failure
};

const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(ErrorCode code) noexcept {
    return {static_cast<int>(code), error_category()};
}

// Start-up failure (the only exception a backend throws for a data-dependent reason): unusable file,
// schema newer than the binary, wrong master key (the message names its source). Catch it at start-up,
// print what() and exit non-zero.
class StorageStartupError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Tenant {
    std::string id;    // opaque, "t_" + 24 hex characters
    std::string name;  // unique, [A-Za-z0-9][A-Za-z0-9._-]{0,63}
    std::int64_t created_at = 0;  // Unix seconds, like every *_at below
};

struct ApiKeyInfo {
    std::string tenant_id;
    std::string prefix;  // display as "rmcp_<prefix>..."
    std::int64_t created_at = 0;
    std::optional<std::int64_t> revoked_at;
    std::optional<std::int64_t> last_used_at;  // as of the last flush_last_used()
};

struct IssuedApiKey {
    crypto::SecretBytes key;  // the full token, returned this once and never stored
    std::string prefix;
};

struct AuthenticatedKey {
    std::string tenant_id;
    std::string prefix;
    std::int64_t config_version = 0;   // the team's, as get_team_config reads it (storage/team_config.hpp)
};

// Per-tenant caps, so one team cannot fill the store for everyone. Set from the server's config.
struct StorageLimits {
    std::size_t max_queued_jobs_per_tenant = 10'000;   // [sync] max_queued_per_team: queued + running jobs
    std::size_t max_crm_connections_per_tenant = 16;   // [rollout] max_crm_connections_per_team
    // Live claims (running, lease not expired) a claim may add to: [sync] per_team_in_flight and per_crm_in_flight,
    // held by the database so they count every instance's work. 0: no cap.
    std::size_t max_running_per_tenant = 0;
    std::size_t max_running_per_crm = 0;
    std::size_t max_changes_per_tenant = 10'000;        // [changes] max_per_team: older changes are trimmed
    std::size_t max_event_subscriptions_per_tenant = 16; // [events] max_subscriptions_per_team
};

struct DataKeyStatus {
    crypto::KeyId key_id = 0;
    std::string state;  // "active" or "retired"
    std::int64_t created_at = 0;
    std::optional<std::int64_t> retired_at;
    std::int64_t rollout_configs = 0;  // rows sealed under this key
    std::int64_t crm_connections = 0;
    std::int64_t sync_jobs = 0;  // outbox payloads (every status: finished rows still pin the key)
    std::int64_t sync_payloads = 0;  // shared outbox payloads (one per accepted call)
};

struct KeyStatus {
    std::string master_key_source;
    crypto::KeyId active_key_id = 0;
    std::vector<DataKeyStatus> keys;
    std::int64_t rows_to_reseal = 0;  // rows under a key other than the active one
};

struct ResealProgress {
    std::size_t resealed = 0;   // rows moved to the active key by this call
    std::int64_t remaining = 0; // rows still under an older key; 0 = rotation complete
};

class Storage {
public:
    virtual ~Storage() = default;

    // Caps enforced from now on (enqueue_sync, put_crm_connection). Defaults until called.
    virtual void set_limits(const StorageLimits& limits) = 0;

    // Tenants (administration; the tenants table itself is the only tenant-less listing).
    virtual Result<Tenant> create_tenant(std::string_view name) = 0;
    virtual Result<std::vector<Tenant>> list_tenants() = 0;
    virtual Result<Tenant> find_tenant_by_name(std::string_view name) = 0;
    virtual Result<Tenant> find_tenant(std::string_view tenant_id) = 0;

    // API keys. `prefix` may be given as "XXXXXXXX" or "rmcp_XXXXXXXX".
    virtual Result<IssuedApiKey> issue_api_key(std::string_view tenant_id) = 0;
    virtual Result<void> revoke_api_key(std::string_view tenant_id, std::string_view prefix) = 0;
    virtual Result<std::vector<ApiKeyInfo>> list_api_keys(std::string_view tenant_id) = 0;
    // Administration (`key revoke PREFIX` finds the tenant first). Never use it to authenticate.
    virtual Result<ApiKeyInfo> find_api_key(std::string_view prefix) = 0;
    // The per-request check: maps a presented bearer token to its tenant, or `unauthenticated` with
    // one generic message whatever the reason. Records last use in memory only.
    virtual Result<AuthenticatedKey> authenticate(std::string_view presented_key) = 0;
    // Writes the remembered last-use times in one transaction; call periodically and at shutdown.
    virtual Result<std::size_t> flush_last_used() = 0;

    // Rollout configuration: one per tenant; `secret` is sealed, settings are JSON text.
    // `webhook_secret` (may be empty) is sealed together with `secret`, in the same row.
    virtual Result<void> put_rollout_config(std::string_view tenant_id, std::string_view settings_json,
                                            std::span<const unsigned char> secret,
                                            std::span<const unsigned char> webhook_secret) = 0;
    Result<void> put_rollout_config(std::string_view tenant_id, std::string_view settings_json,
                                    std::span<const unsigned char> secret) {
        return put_rollout_config(tenant_id, settings_json, secret, {});
    }
    virtual Result<RolloutConfig> get_rollout_config(std::string_view tenant_id) = 0;
    virtual Result<void> delete_rollout_config(std::string_view tenant_id) = 0;

    // CRM connections: one per (tenant, crm type); the credential key is sealed. `crm_type` is the
    // canonical name ([a-z0-9_-]{1,64}); aliases are resolved by the caller. A new crm type beyond
    // StorageLimits::max_crm_connections_per_tenant is refused (limit_exceeded). Deleting a connection
    // deletes that team's ledger rows for the CRM in the same transaction (its CRM ids mean nothing
    // once the connection is gone, and may point into another account after a reconnect).
    virtual Result<void> put_crm_connection(std::string_view tenant_id, std::string_view crm_type,
                                            std::string_view label,
                                            std::span<const unsigned char> credential_key) = 0;
    virtual Result<CrmConnection> get_crm_connection(std::string_view tenant_id,
                                                     std::string_view crm_type) = 0;
    virtual Result<std::vector<CrmConnectionInfo>> list_crm_connections(std::string_view tenant_id) = 0;
    virtual Result<void> delete_crm_connection(std::string_view tenant_id, std::string_view crm_type) = 0;
    // All of the above for one team, in one call (storage/team_config.hpp).
    virtual Result<TeamConfigSnapshot> get_team_config(std::string_view tenant_id) = 0;

    // Webhooks in (issue 20): routes and the inbox (sql_hooks.cpp), processing it (sql_hook_inbox.cpp), subscription
    // state, reconcile leases and polling (sql_hook_polls.cpp). Each call is documented beside its types, in
    // storage/hooks.hpp ("What the Storage calls do"), which keeps this file under the 400-line cap.
    virtual Result<crypto::SecretBytes> issue_hook_route(std::string_view tenant_id, std::string_view crm_type) = 0;
    virtual Result<HookRoute> find_hook_route(std::string_view route) = 0;
    virtual Result<bool> record_hook_delivery(const HookRoute& route, const HookDelivery& delivery,
                                              std::int64_t now_ms) = 0;
    virtual Result<std::vector<HookInboxRow>> list_hook_inbox(std::string_view tenant_id, std::size_t limit) = 0;
    virtual Result<std::vector<ClaimedHookEvent>> claim_hook_events(std::int64_t now_ms, std::int64_t lease_ms,
                                                                    std::size_t limit) = 0;
    virtual Result<FinishedHookEvent> finish_hook_event(std::int64_t inbox_id, std::int64_t claim_token,
                                                        const HookEventResult& result, std::int64_t now_ms) = 0;
    virtual Result<bool> retry_hook_event(std::int64_t inbox_id, std::int64_t claim_token, std::int64_t retry_at_ms,
                                          std::string_view error) = 0;
    virtual Result<std::size_t> release_interrupted_hook_claims(std::int64_t now_ms) = 0;
    virtual Result<std::vector<LedgerEntry>> ledger_by_external_ids(std::string_view tenant_id, std::string_view crm_type,
                                                                    std::string_view entity_kind,
                                                                    const std::vector<std::string>& external_ids) = 0;
    virtual Result<std::size_t> trim_hook_inbox(std::int64_t before_ms, std::size_t max_rows) = 0;
    virtual Result<std::int64_t> pending_hook_events() = 0;
    virtual Result<void> set_hook_subscribed(std::string_view tenant_id, std::string_view crm_type, bool subscribed,
                                             std::int64_t now_ms) = 0;
    virtual Result<std::vector<HookConnectionRef>> claim_unsubscribed_connections(std::int64_t now_ms,
                                                                                  std::int64_t lease_ms,
                                                                                  std::size_t limit) = 0;
    virtual Result<std::vector<HookConnectionRef>> claim_subscribed_connections(std::int64_t now_ms, std::int64_t lease_ms,
                                                                                std::size_t limit) = 0;
    virtual Result<std::size_t> enqueue_ledger_polls(std::int64_t now_ms, std::size_t per_tenant,
                                                     std::int64_t min_interval_ms, bool all_connections,
                                                     std::int64_t budget_window_ms = 0) = 0;
    virtual Result<std::optional<bool>> hook_subscribed(std::string_view tenant_id, std::string_view crm_type) = 0;
    virtual Result<std::pair<std::int64_t, std::int64_t>> hook_subscription_counts() = 0;

    // Key administration (`rollout-mcp keys ...`).
    virtual Result<KeyStatus> key_status() = 0;
    // New active data key; the previous one is retired (still opens its rows).
    virtual Result<crypto::KeyId> rotate_data_key() = 0;
    // Re-seals up to max_rows rows that are under a retired key, each a compare-and-swap on
    // (row, old key id, old nonce). Safe to interrupt: progress is the rows themselves.
    virtual Result<ResealProgress> reseal_batch(std::size_t max_rows) = 0;
    // Deletes retired data keys that no row uses any more; returns how many.
    virtual Result<std::size_t> destroy_unused_keys() = 0;
    // Re-wraps every data key (and the API-key root) under `new_master` in one transaction; sealed rows
    // are untouched. Afterwards only the new master key opens this database.
    virtual Result<void> rewrap_master(crypto::MasterKey new_master) = 0;

    // The sync outbox (storage/outbox.hpp). Times are Unix milliseconds, passed in so tests control them.
    // Writes every job of one call in one transaction, each distinct payload sealed once and shared. A
    // reused idempotency key with the same args_hash returns the first call's jobs (replayed); with
    // another hash: already_exists. limit_exceeded when the tenant would have more queued + running jobs
    // than StorageLimits::max_queued_jobs_per_tenant (retry later).
    virtual Result<EnqueueResult> enqueue_sync(const SyncRequest& request, std::int64_t now_ms) = 0;
    // True when writes done in one transaction share one wait for the disk (SQLite): group commit pays. PostgreSQL
    // commits each batched item on its own, so batching there would only make other storage lanes wait.
    virtual bool shares_commits() const = 0;
    // enqueue_sync for requests accepted together, each as if alone and in order (results in request order).
    // SQLite: one transaction with a savepoint each and one commit, so one disk wait; PostgreSQL: a transaction each.
    virtual std::vector<Result<EnqueueResult>> enqueue_syncs(std::span<const SyncRequest> requests,
                                                             std::int64_t now_ms) = 0;
    // A 32-byte key derived from the master key for one purpose (libsodium crypto_kdf; `context` is exactly
    // 8 characters): the same on every instance sharing the master key, useless for opening sealed rows.
    virtual crypto::SecretBytes derive_purpose_key(std::uint64_t id, std::string_view context) const = 0;

    // Tasks over sync jobs (storage/outbox.hpp, SyncTask). create: invalid_argument when a job id is not the
    // tenant's or the id is taken. find/cancel: not_found for an unknown id and for another tenant's task (the
    // same answer, so ids cannot be probed). cancel marks the task and fails its jobs that never started
    // (queued, no attempt) with a "cancelled" error; running and retrying jobs go on.
    virtual Result<void> create_sync_task(const SyncTask& task) = 0;
    virtual Result<SyncTask> find_sync_task(std::string_view tenant_id, std::string_view task_id) = 0;
    virtual Result<SyncTask> cancel_sync_task(std::string_view tenant_id, std::string_view task_id,
                                              std::int64_t now_ms) = 0;
    // Records a finished task's outcome once (a second call changes nothing): retried jobs never reopen it.
    virtual Result<void> freeze_sync_task(std::string_view tenant_id, std::string_view task_id, std::string_view status,
                                          std::string_view result_json, std::int64_t finished_at_ms) = 0;
    // The tenant's tasks not yet frozen that include any of these jobs.
    virtual Result<std::vector<SyncTask>> open_sync_tasks_with_jobs(std::string_view tenant_id,
                                                                    const std::vector<std::string>& job_ids) = 0;
    // Claimable jobs (queued and due, or running with an expired lease), fair across tenants: every
    // tenant's oldest due job comes before any tenant's second one, and so on; at most `per_tenant`
    // per tenant and `limit` in all.
    virtual Result<std::vector<DueJob>> due_sync_jobs(std::int64_t now_ms, std::size_t per_tenant,
                                                      std::size_t limit) = 0;
    // Claims each id that is still claimable (compare-and-set, one transaction): status running,
    // attempts + 1, lease until `lease_until_ms`, a new fencing token; a job taken over from an expired lease
    // gets recover. A job is not claimed while another live claim of the same tenant and CRM shares its
    // tour or its lock key (the buyer).
    // Ids no longer claimable are left out of the answer. A payload that does not open fails that job
    // (status failed, its error says so) and leaves it out too.
    virtual Result<std::vector<ClaimedJob>> claim_sync_jobs(const std::vector<std::string>& job_ids,
                                                            std::int64_t now_ms, std::int64_t lease_until_ms) = 0;
    // Records one attempt of a running job and upserts outcome.ledger, in one transaction. `die` marks
    // the job dead with an alert pending. not_found when the job is not running under `claim_token` (the
    // ClaimedJob's fencing token): an attempt whose claim was lost changes nothing.
    virtual Result<SyncJobInfo> finish_sync_attempt(std::string_view job_id, std::int64_t claim_token,
                                                    const AttemptOutcome& outcome,
                                                    std::int64_t now_ms) = 0;
    // finish_sync_attempt for attempts that end together. SQLite: one transaction and one commit, each attempt as if
    // alone (its own savepoint), so one whose claim was lost or whose write failed changes nothing and the others
    // are kept; a failed commit fails them all (their claims then expire and the jobs may run again, with recover).
    // PostgreSQL: one transaction each. One result per attempt, in order.
    virtual std::vector<Result<SyncJobInfo>> finish_sync_attempts(std::span<const FinishAttempt> attempts) = 0;
    // The appointment and task rows of one tour's visits ("<tour>/<property>") in one tenant and CRM.
    virtual Result<std::vector<LedgerEntry>> sync_ledger_visits(std::string_view tenant_id, std::string_view crm_type,
                                                                std::string_view tour_id) = 0;
    // Ledger rows of one tenant and CRM whose local id is one of `local_ids` (any entity kind).
    virtual Result<std::vector<LedgerEntry>> sync_ledger(std::string_view tenant_id, std::string_view crm_type,
                                                         const std::vector<std::string>& local_ids) = 0;
    // Start-up: jobs left running by a previous process become queued and due now, with recover set.
    virtual Result<std::size_t> requeue_interrupted_sync_jobs(std::int64_t now_ms) = 0;
    virtual Result<std::vector<SyncJobInfo>> find_sync_jobs(const SyncJobQuery& query) = 0;
    // failed/dead jobs matching `query` (status filter ignored) become queued and due now, attempts 0,
    // any pending alert dropped; returns them.
    virtual Result<std::vector<SyncJobInfo>> retry_sync_jobs(const SyncJobQuery& query, std::int64_t now_ms) = 0;
    virtual Result<OutboxStats> outbox_stats(std::int64_t now_ms) = 0;
    // PostgreSQL: NOTIFY every instance listening on `channel` (storage/postgres_listener.hpp) at once, this one
    // included; the payload must hold no secret. SQLite: nothing (one process per file).
    virtual Result<void> notify_instances(std::string_view channel, std::string_view payload) = 0;
    // Dead jobs whose alert is due (never delivered, next alert attempt at or before now).
    virtual Result<std::vector<PendingAlert>> pending_alerts(std::int64_t now_ms, std::size_t limit) = 0;
    // Claims at most `limit` alerts that are due (as pending_alerts lists them), for one instance to post (docs/
    // ARCHITECTURE.md, "Several instances"): each one's next try moves to `lease_until_ms`, so no other instance
    // claims it until then; if the claimer dies before finish_alert, the alert is due again when the lease passes.
    virtual Result<std::vector<PendingAlert>> claim_alerts(std::int64_t now_ms, std::int64_t lease_until_ms,
                                                           std::size_t limit) = 0;
    // Under a claim (`claimed_until_ms`, the claim's PendingAlert::claimed_until_ms): delivered, the alert is done;
    // otherwise the next try is at next_attempt_at_ms (attempts + 1), or never again when next_attempt_at_ms is 0
    // (given up). not_found when the alert is no longer pending under that claim (it lapsed and another took it).
    virtual Result<void> finish_alert(std::string_view job_id, std::int64_t claimed_until_ms, bool delivered,
                                      std::int64_t next_attempt_at_ms) = 0;
    // purge_sync_batch until done, for succeeded jobs and idempotency keys older than `before_ms` (each job
    // leaves a tombstone; ledger rows stay); returns how many jobs went.
    virtual Result<std::size_t> purge_finished_sync_jobs(std::int64_t before_ms) = 0;
    // One bounded purge step in one transaction: at most `max_rows` rows among old jobs (each leaves a
    // tombstone), payloads no job references, old idempotency keys and old tombstones. Call again
    // until done; other storage work can run between calls.
    virtual Result<PurgeProgress> purge_sync_batch(const PurgePolicy& policy, std::int64_t now_ms,
                                                   std::size_t max_rows) = 0;
    // The tombstone of a purged job of this tenant (another tenant's id: not_found, like an unknown id).
    virtual Result<SyncJobTombstone> find_sync_job_tombstone(std::string_view tenant_id, std::string_view job_id) = 0;

    // create_automation's record per (tenant, name) (storage/automations.hpp). Reserves `name` for this
    // spec unless a row exists (then returns it, whatever its spec); a pending row older than `stale_before_ms`
    // is handed to this caller (its updated_at refreshed) so one caller at a time resolves it.
    virtual Result<AutomationReservation> reserve_automation(std::string_view tenant_id, std::string_view name,
                                                             const std::vector<unsigned char>& spec_hash,
                                                             std::int64_t now_ms, std::int64_t stale_before_ms) = 0;
    virtual Result<void> complete_automation(std::string_view tenant_id, std::string_view name,
                                             std::string_view automation_id, std::int64_t now_ms) = 0;
    // A call that reserved `name` could not create it. may_exist false (Rollout said no): the reservation
    // goes. may_exist true (the answer was lost): it stays, marked stale, so the next call looks it up at once.
    virtual Result<void> release_automation(std::string_view tenant_id, std::string_view name, bool may_exist) = 0;

    // 2025 MCP sessions shared by instances (storage/mcp_sessions.hpp). Each call takes the session id (only its
    // hash is stored) and, but for the sweep, the tenant: another tenant's session is not_found, like an unknown id.
    // create: already_exists when the id is taken. find: not_found too when the row was last active before
    // `active_after_ms` (expired, not yet swept). touch moves last_active forward only. delete and the sweep NOTIFY
    // the other instances with the hashes of what they deleted (storage/postgres_listener.hpp), at commit.
    virtual Result<void> create_mcp_session(std::string_view session_id, const McpSessionRecord& record) = 0;
    virtual Result<McpSessionRecord> find_mcp_session(std::string_view session_id, std::string_view tenant_id,
                                                      std::int64_t active_after_ms) = 0;
    virtual Result<void> touch_mcp_session(std::string_view session_id, std::string_view tenant_id,
                                           std::int64_t now_ms) = 0;
    virtual Result<void> set_mcp_session_log_level(std::string_view session_id, std::string_view tenant_id,
                                                   std::string_view log_level) = 0;
    virtual Result<void> delete_mcp_session(std::string_view session_id, std::string_view tenant_id) = 0;
    // Deletes at most `max_rows` (at most 100) sessions last active before `idle_before_ms`; returns how many.
    virtual Result<std::size_t> delete_idle_mcp_sessions(std::int64_t idle_before_ms, std::size_t max_rows) = 0;

    // The team's Rollout rate bucket (storage/rate_buckets.hpp), created full on first use: takes up to `wanted`
    // whole tokens in one atomic statement. Times are Unix milliseconds of the caller's clock.
    virtual Result<RateLease> lease_rate_tokens(std::string_view tenant_id, const RateBucket& bucket,
                                                std::int64_t wanted, std::int64_t now_ms) = 0;
    // Rollout answered 429: the team's bucket is empty and refills only from `until_ms` on (a later pause
    // already recorded is kept).
    virtual Result<void> pause_rate_bucket(std::string_view tenant_id, std::int64_t until_ms) = 0;

    // The CRM change log (storage/crm_changes.hpp; README, "Changes from the CRM"). Times in Unix milliseconds.
    // append: numbers the change after the tenant's last one and keeps at most max_changes_per_tenant (the oldest
    // go); invalid_argument for an unknown kind or fields that are not a JSON object. SqlStorage also offers it
    // inside a caller's transaction (append_crm_change_in_transaction).
    virtual Result<CrmChange> append_crm_change(std::string_view tenant_id, const CrmChange& change,
                                                std::int64_t now_ms) = 0;
    // The tenant's changes after `after_seq` (nullopt: from the oldest kept), at most `limit`, in order;
    // invalid_argument when after_seq is negative or ahead of the tenant's log.
    virtual Result<CrmChangePage> list_crm_changes(std::string_view tenant_id, std::optional<std::int64_t> after_seq,
                                                   std::size_t limit) = 0;
    // Retention by age: one bounded step (at most max_rows rows, one transaction) removing changes recorded
    // before before_ms; returns how many went (0: done).
    virtual Result<std::size_t> trim_crm_changes(std::int64_t before_ms, std::size_t max_rows) = 0;

    // MCP Events webhook subscriptions (storage/crm_changes.hpp). put: creates the subscription (delivery starts
    // after the tenant's current last change, verification pending) or, for an existing id of the same tenant,
    // refreshes its expiry and secret; limit_exceeded beyond max_event_subscriptions_per_tenant live ones.
    virtual Result<EventSubscription> put_event_subscription(const EventSubscription& subscription,
                                                             std::span<const unsigned char> secret,
                                                             std::int64_t now_ms) = 0;
    // not_found for an unknown id and another tenant's (the same answer).
    virtual Result<void> delete_event_subscription(std::string_view tenant_id, std::string_view id) = 0;
    // Live subscriptions with something to do (a challenge, or changes after their cursor), due and not leased.
    virtual Result<std::vector<std::string>> due_event_subscriptions(std::int64_t now_ms, std::size_t limit) = 0;
    // Claims one of them (compare-and-set; PostgreSQL: FOR UPDATE SKIP LOCKED) with a lease and a new fencing
    // token, and opens its secret; nullopt when it is no longer claimable (another instance has it).
    virtual Result<std::optional<ClaimedSubscription>> claim_event_subscription(std::string_view id,
                                                                                std::int64_t now_ms,
                                                                                std::int64_t lease_until_ms) = 0;
    // Records a delivery round under the claim's token (release: the lease ends). false: the claim was lost and
    // nothing changed.
    virtual Result<bool> record_event_delivery(std::string_view id, std::int64_t claim_token,
                                               const DeliveryProgress& progress, bool release) = 0;
    // The callback answered 410 Gone: the subscription goes (under the claim's token). false: claim lost.
    virtual Result<bool> drop_event_subscription(std::string_view id, std::int64_t claim_token) = 0;
    // Subscriptions whose TTL passed without a refresh; returns how many went.
    virtual Result<std::size_t> purge_expired_event_subscriptions(std::int64_t now_ms) = 0;

    // PRAGMA wal_checkpoint(TRUNCATE): afterwards no deleted row survives in the WAL file.
    virtual Result<void> checkpoint() = 0;
};

}  // namespace rollout_mcp::storage

template <>
struct std::is_error_code_enum<rollout_mcp::storage::ErrorCode> : std::true_type {};
