// SqlStorage: the Storage backend, written once against storage/sql.hpp and run on either engine: SQLite (one
// file in WAL mode, the embedded default) or PostgreSQL (shared by several server instances). Owns the master
// key, the unwrapped data keys and the API-key hasher for the lifetime of the server.
#pragma once

#include "crypto/api_key.hpp"
#include "crypto/keyring.hpp"
#include "crypto/master_key.hpp"
#include "crypto/seal.hpp"
#include "storage/sql.hpp"
#include "storage/storage.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>

namespace rollout_mcp::storage {

class SqlStorage final : public Storage {
public:
    // Opens (creating if needed, mode 0600) the database, applies migrations, verifies the master key
    // against the stored check value and unwraps every data key; on a new database creates the check
    // value, the first data key and the API-key root. Throws StorageStartupError (or SchemaError).
    static std::unique_ptr<SqlStorage> open(const std::filesystem::path& db_path,
                                               crypto::MasterKey master);
    // The same on a PostgreSQL database (a libpq URL): migrations run under an advisory lock, so instances
    // starting together migrate once and only one of them creates the first keys.
    static std::unique_ptr<SqlStorage> connect_postgres(const std::string& url, crypto::MasterKey master);
    ~SqlStorage() override;  // flushes last-use times, best effort

    void set_limits(const StorageLimits& limits) override { limits_ = limits; }
    bool shares_commits() const override { return db_->dialect() == Dialect::sqlite; }

    Result<Tenant> create_tenant(std::string_view name) override;
    Result<std::vector<Tenant>> list_tenants() override;
    Result<Tenant> find_tenant_by_name(std::string_view name) override;
    Result<Tenant> find_tenant(std::string_view tenant_id) override;

    Result<IssuedApiKey> issue_api_key(std::string_view tenant_id) override;
    Result<void> revoke_api_key(std::string_view tenant_id, std::string_view prefix) override;
    Result<std::vector<ApiKeyInfo>> list_api_keys(std::string_view tenant_id) override;
    Result<ApiKeyInfo> find_api_key(std::string_view prefix) override;
    Result<AuthenticatedKey> authenticate(std::string_view presented_key) override;
    Result<std::size_t> flush_last_used() override;

    using Storage::put_rollout_config;
    Result<void> put_rollout_config(std::string_view tenant_id, std::string_view settings_json,
                                    std::span<const unsigned char> secret,
                                    std::span<const unsigned char> webhook_secret) override;
    Result<RolloutConfig> get_rollout_config(std::string_view tenant_id) override;
    Result<void> delete_rollout_config(std::string_view tenant_id) override;

    Result<void> put_crm_connection(std::string_view tenant_id, std::string_view crm_type,
                                    std::string_view label,
                                    std::span<const unsigned char> credential_key) override;
    Result<CrmConnection> get_crm_connection(std::string_view tenant_id,
                                             std::string_view crm_type) override;
    Result<std::vector<CrmConnectionInfo>> list_crm_connections(std::string_view tenant_id) override;
    Result<TeamConfigSnapshot> get_team_config(std::string_view tenant_id) override;
    Result<void> delete_crm_connection(std::string_view tenant_id, std::string_view crm_type) override;

    Result<crypto::SecretBytes> issue_hook_route(std::string_view tenant_id, std::string_view crm_type) override;
    Result<HookRoute> find_hook_route(std::string_view route) override;
    Result<bool> record_hook_delivery(const HookRoute& route, const HookDelivery& delivery,
                                      std::int64_t now_ms) override;
    Result<std::vector<HookInboxRow>> list_hook_inbox(std::string_view tenant_id, std::size_t limit) override;
    // Processing the inbox (sql_hook_inbox.cpp; ledger_by_external_ids: sql_ledger.cpp).
    Result<std::vector<ClaimedHookEvent>> claim_hook_events(std::int64_t now_ms, std::int64_t lease_ms,
                                                            std::size_t limit) override;
    Result<FinishedHookEvent> finish_hook_event(std::int64_t inbox_id, std::int64_t claim_token,
                                                const HookEventResult& result, std::int64_t now_ms) override;
    Result<std::size_t> release_interrupted_hook_claims(std::int64_t now_ms) override;
    Result<bool> retry_hook_event(std::int64_t inbox_id, std::int64_t claim_token, std::int64_t retry_at_ms,
                                  std::string_view error) override;
    Result<std::vector<LedgerEntry>> ledger_by_external_ids(std::string_view tenant_id, std::string_view crm_type,
                                                            std::string_view entity_kind,
                                                            const std::vector<std::string>& external_ids) override;
    Result<std::size_t> trim_hook_inbox(std::int64_t before_ms, std::size_t max_rows) override;
    Result<std::int64_t> pending_hook_events() override;
    // Subscription state, reconcile leases and polling (sql_hook_polls.cpp).
    Result<void> set_hook_subscribed(std::string_view tenant_id, std::string_view crm_type, bool subscribed,
                                     std::int64_t now_ms) override;
    Result<std::vector<HookConnectionRef>> claim_subscribed_connections(std::int64_t now_ms, std::int64_t lease_ms,
                                                                        std::size_t limit) override;
    Result<std::vector<HookConnectionRef>> claim_unsubscribed_connections(std::int64_t now_ms, std::int64_t lease_ms,
                                                                          std::size_t limit) override;
    Result<std::size_t> enqueue_ledger_polls(std::int64_t now_ms, std::size_t per_tenant, std::int64_t min_interval_ms,
                                             bool all_connections, std::int64_t budget_window_ms = 0) override;
    Result<std::optional<bool>> hook_subscribed(std::string_view tenant_id, std::string_view crm_type) override;
    Result<std::pair<std::int64_t, std::int64_t>> hook_subscription_counts() override;

    Result<KeyStatus> key_status() override;
    Result<crypto::KeyId> rotate_data_key() override;
    Result<ResealProgress> reseal_batch(std::size_t max_rows) override;
    Result<std::size_t> destroy_unused_keys() override;
    Result<void> rewrap_master(crypto::MasterKey new_master) override;
    Result<void> checkpoint() override;

    // The sync outbox (sql_outbox.cpp, sql_outbox_admin.cpp).
    Result<EnqueueResult> enqueue_sync(const SyncRequest& request, std::int64_t now_ms) override;
    std::vector<Result<EnqueueResult>> enqueue_syncs(std::span<const SyncRequest> requests, std::int64_t now_ms) override;
    Result<std::vector<DueJob>> due_sync_jobs(std::int64_t now_ms, std::size_t per_tenant,
                                              std::size_t limit) override;
    Result<std::vector<ClaimedJob>> claim_sync_jobs(const std::vector<std::string>& job_ids,
                                                    std::int64_t now_ms, std::int64_t lease_until_ms) override;
    Result<SyncJobInfo> finish_sync_attempt(std::string_view job_id, std::int64_t claim_token,
                                                    const AttemptOutcome& outcome,
                                            std::int64_t now_ms) override;
    std::vector<Result<SyncJobInfo>> finish_sync_attempts(std::span<const FinishAttempt> attempts) override;
    Result<std::vector<LedgerEntry>> sync_ledger_visits(std::string_view tenant_id, std::string_view crm_type,
                                                        std::string_view tour_id) override;
    Result<std::vector<LedgerEntry>> sync_ledger(std::string_view tenant_id, std::string_view crm_type,
                                                 const std::vector<std::string>& local_ids) override;
    Result<std::size_t> requeue_interrupted_sync_jobs(std::int64_t now_ms) override;
    Result<std::vector<SyncJobInfo>> find_sync_jobs(const SyncJobQuery& query) override;
    Result<std::vector<SyncJobInfo>> retry_sync_jobs(const SyncJobQuery& query, std::int64_t now_ms) override;
    Result<OutboxStats> outbox_stats(std::int64_t now_ms) override;
    crypto::SecretBytes derive_purpose_key(std::uint64_t id, std::string_view context) const override;
    // Tasks over sync jobs (sql_sync_tasks.cpp).
    Result<void> create_sync_task(const SyncTask& task) override;
    Result<SyncTask> find_sync_task(std::string_view tenant_id, std::string_view task_id) override;
    Result<SyncTask> cancel_sync_task(std::string_view tenant_id, std::string_view task_id,
                                      std::int64_t now_ms) override;
    Result<void> freeze_sync_task(std::string_view tenant_id, std::string_view task_id, std::string_view status,
                                  std::string_view result_json, std::int64_t finished_at_ms) override;
    Result<std::vector<SyncTask>> open_sync_tasks_with_jobs(std::string_view tenant_id,
                                                            const std::vector<std::string>& job_ids) override;
    Result<void> notify_instances(std::string_view channel, std::string_view payload) override;
    Result<std::vector<PendingAlert>> pending_alerts(std::int64_t now_ms, std::size_t limit) override;
    Result<std::vector<PendingAlert>> claim_alerts(std::int64_t now_ms, std::int64_t lease_until_ms,
                                                   std::size_t limit) override;
    Result<void> finish_alert(std::string_view job_id, std::int64_t claimed_until_ms, bool delivered,
                              std::int64_t next_attempt_at_ms) override;
    Result<std::size_t> purge_finished_sync_jobs(std::int64_t before_ms) override;
    Result<AutomationReservation> reserve_automation(std::string_view tenant_id, std::string_view name,
                                                     const std::vector<unsigned char>& spec_hash, std::int64_t now_ms,
                                                     std::int64_t stale_before_ms) override;
    Result<void> complete_automation(std::string_view tenant_id, std::string_view name,
                                     std::string_view automation_id, std::int64_t now_ms) override;
    Result<void> release_automation(std::string_view tenant_id, std::string_view name, bool may_exist) override;
    // Retention (sql_outbox_retention.cpp).
    Result<PurgeProgress> purge_sync_batch(const PurgePolicy& policy, std::int64_t now_ms,
                                           std::size_t max_rows) override;
    Result<SyncJobTombstone> find_sync_job_tombstone(std::string_view tenant_id, std::string_view job_id) override;

    // 2025 MCP sessions (sql_mcp_sessions.cpp).
    Result<void> create_mcp_session(std::string_view session_id, const McpSessionRecord& record) override;
    Result<McpSessionRecord> find_mcp_session(std::string_view session_id, std::string_view tenant_id,
                                              std::int64_t active_after_ms) override;
    Result<void> touch_mcp_session(std::string_view session_id, std::string_view tenant_id, std::int64_t now_ms) override;
    Result<void> set_mcp_session_log_level(std::string_view session_id, std::string_view tenant_id,
                                           std::string_view log_level) override;
    Result<void> delete_mcp_session(std::string_view session_id, std::string_view tenant_id) override;
    Result<std::size_t> delete_idle_mcp_sessions(std::int64_t idle_before_ms, std::size_t max_rows) override;

    // The Rollout rate buckets (sql_rate_buckets.cpp).
    Result<RateLease> lease_rate_tokens(std::string_view tenant_id, const RateBucket& bucket, std::int64_t wanted,
                                        std::int64_t now_ms) override;
    Result<void> pause_rate_bucket(std::string_view tenant_id, std::int64_t until_ms) override;

    // The CRM change log and Events subscriptions (sql_changes.cpp, sql_event_subscriptions.cpp).
    Result<CrmChange> append_crm_change(std::string_view tenant_id, const CrmChange& change,
                                        std::int64_t now_ms) override;
    Result<CrmChangePage> list_crm_changes(std::string_view tenant_id, std::optional<std::int64_t> after_seq,
                                           std::size_t limit) override;
    Result<std::size_t> trim_crm_changes(std::int64_t before_ms, std::size_t max_rows) override;
    Result<EventSubscription> put_event_subscription(const EventSubscription& subscription,
                                                     std::span<const unsigned char> secret, std::int64_t now_ms) override;
    Result<void> delete_event_subscription(std::string_view tenant_id, std::string_view id) override;
    Result<std::vector<std::string>> due_event_subscriptions(std::int64_t now_ms, std::size_t limit) override;
    Result<std::optional<ClaimedSubscription>> claim_event_subscription(std::string_view id, std::int64_t now_ms,
                                                                        std::int64_t lease_until_ms) override;
    Result<bool> record_event_delivery(std::string_view id, std::int64_t claim_token, const DeliveryProgress& progress,
                                       bool release) override;
    Result<bool> drop_event_subscription(std::string_view id, std::int64_t claim_token) override;
    Result<std::size_t> purge_expired_event_subscriptions(std::int64_t now_ms) override;
    // append_crm_change inside the caller's open transaction (the inbound processing step records an inbox event
    // as processed and appends its changes atomically). Throws SqlError; an invalid change is an Error value.
    Result<CrmChange> append_crm_change_in_transaction(std::string_view tenant_id, const CrmChange& change,
                                                       std::int64_t now_ms);

    Dialect dialect() const noexcept { return db_->dialect(); }

private:
    SqlStorage(std::unique_ptr<Database> db, crypto::MasterKey master);
    Result<std::vector<HookConnectionRef>> claim_connections(bool subscribed, std::int64_t now_ms, std::int64_t lease_ms,
                                                             std::size_t limit);
    static std::unique_ptr<SqlStorage> start(std::unique_ptr<Database> db, crypto::MasterKey master);

    void bootstrap_keys();  // start-up only; throws StorageStartupError
    // finish_sync_attempt's work inside the caller's transaction (sql_outbox.cpp); throws SqlError.
    Result<SyncJobInfo> record_attempt(std::string_view job_id, std::int64_t claim_token, const AttemptOutcome& outcome,
                                       std::int64_t now_ms);
    // Keyed hash (the API-key hashing key, domain-separated) of a CRM credential id: equal for the same
    // CRM account whichever team stored it, without opening anyone's sealed value.
    std::vector<unsigned char> credential_fingerprint(std::span<const unsigned char> credential) const;
    void backfill_credential_fingerprints();
    std::vector<unsigned char> route_hash(std::string_view route) const;   // sql_hooks.cpp  // start-up: rows stored before fingerprints existed
    // Unwraps every stored data key with master_; the error names the master-key source.
    Result<crypto::Keyring> load_keyring() const;
    Result<crypto::SecretBytes> open_row(const crypto::RowIdentity& row, crypto::KeyId key_id,
                                         std::span<const unsigned char> nonce,
                                         std::span<const unsigned char> ciphertext);
    // Client data (a job's payload): ordinary wiped memory instead of guarded pages (crypto/secret_bytes.hpp).
    Result<crypto::WipedBuffer> open_row_data(const crypto::RowIdentity& row, crypto::KeyId key_id,
                                              std::span<const unsigned char> nonce,
                                              std::span<const unsigned char> ciphertext);
    template <typename Opened, typename Open>
    Result<Opened> open_row_with(Open open);   // reloads the keyring once on an unknown key id
    crypto::SealedSecret seal_row(const crypto::RowIdentity& row,
                                  std::span<const unsigned char> plaintext) const;
    Result<void> require_tenant(std::string_view tenant_id);
    // Reloads the keyring when the database's active key is not ours (another process rotated), so
    // we never seal under a key that `destroy_unused_keys` may remove. Call inside a write transaction.
    Result<crypto::KeyId> follow_active_key();
    SyncTask read_task(Statement& st);   // a sync_tasks row (sql_sync_tasks.cpp's column list)
    // PostgreSQL: NOTIFY the other instances (storage/postgres_listener.hpp) when this transaction commits; ids
    // only, comma-separated, at most 7,000 bytes (PostgreSQL's payload limit is 8,000). SQLite: nothing to do.
    void notify_others(std::string_view channel, const std::vector<std::string>& ids);
    // PostgreSQL claims: the per-team advisory locks of these jobs, in one global order.
    void lock_claim_scopes(const std::vector<std::string>& job_ids);
    // One job's claim under claim_sync_jobs' rules, inside the caller's transaction (on PostgreSQL after
    // lock_claim_scopes); false when a rule refuses it. sql_outbox_claims.cpp.
    bool claim_row(const std::string& job_id, std::int64_t now_ms, std::int64_t lease_until_ms);
    // enqueue_sync's work inside the caller's transaction (sql_outbox_enqueue.cpp); throws SqlError.
    Result<EnqueueResult> enqueue_in_transaction(const SyncRequest& request, std::int64_t now_ms);
    // Whether enqueue_sync may write this job of the batch already claimed (running under claim token 1): the
    // claim rules of claim_row, inside the caller's transaction (on PostgreSQL under the team's claim lock).
    bool claim_at_enqueue(const std::string& tenant_id, const std::string& batch_id, const NewSyncJob& job,
                          std::int64_t now_ms);
    // One outbox job's columns (no payload), or not_found.
    Result<SyncJobInfo> load_sync_job(std::string_view job_id);

    std::unique_ptr<Database> db_;
    crypto::MasterKey master_;
    crypto::Keyring keyring_;
    std::unique_ptr<crypto::ApiKeyHasher> api_hasher_;
    std::map<std::string, std::int64_t, std::less<>> last_used_;  // prefix -> Unix seconds
    StorageLimits limits_;
};

namespace detail {

std::int64_t now_seconds();
Error from_sql(const SqlError& e, std::string_view operation);

// Runs one storage operation, turning SqlError into an Error value at the API boundary.
template <class T, class F>
Result<T> guarded(std::string_view operation, F&& body) {
    try {
        return body();
    } catch (const SqlError& e) {
        return from_sql(e, operation);
    }
}

inline Error error(ErrorCode code, std::string message) {
    return Error{code, std::move(message)};
}

// Group commit inside the caller's transaction: `one(item)` for each item in its own savepoint, so an item refused
// (an error Result, or an SqlError) is undone alone and the others commit together. If SQLite ended the whole
// transaction (a full disk, an I/O error), that SqlError propagates: the caller's batch fails with its cause.
template <class T, class Items, class One>
std::vector<Result<T>> each_in_savepoint(Database& db, const Items& items, std::string_view operation, One&& one) {
    std::vector<Result<T>> out;
    out.reserve(items.size());
    for (const auto& item : items) {
        db.exec("SAVEPOINT batch_item");
        Result<T> result = error(ErrorCode::database, "not done");
        bool undone = false;
        try {
            result = one(item);
        } catch (const SqlError& e) {
            try {
                db.exec("ROLLBACK TO batch_item");
            } catch (const SqlError&) {
                throw e;
            }
            undone = true;
            result = from_sql(e, operation);
        } catch (const std::exception& e) {   // not SQLite's (a broken invariant, bad_alloc): this item alone
            db.exec("ROLLBACK TO batch_item");
            undone = true;
            result = error(ErrorCode::database, std::string(operation) + ": " + e.what());
        }
        if (!result && !undone) db.exec("ROLLBACK TO batch_item");
        db.exec("RELEASE batch_item");
        out.push_back(std::move(result));
    }
    return out;
}

// Canonical CRM type: [a-z0-9_-]{1,64}.
bool valid_crm_type(std::string_view t);
// prefix + 24 lowercase hex characters from libsodium's CSPRNG.
std::string random_id(std::string_view prefix);
// prefix + 12 hex characters of now_ms (48 bits, big-endian) + random_id's 24: as unguessable as random_id, and
// ids made close in time sort together, so the rows a group commit inserts share their index pages instead of
// each dirtying its own (README "Sync path CPU"). Used for the outbox's jobs, payloads and batches.
std::string time_ordered_id(std::string_view prefix, std::int64_t now_ms);

// The sync_jobs columns behind SyncJobInfo, in the order sync_job_from reads them (19 columns; a query
// may append more after them).
inline constexpr const char* kSyncJobColumns =
    "id, tenant_id, kind, crm_type, subject, tour_id, lock_key, status, attempts, next_attempt_at,"
    " created_at, updated_at, finished_at, last_error, last_http_status, result, recover, traceparent, tracestate";
inline constexpr int kSyncJobColumnCount = 19;
SyncJobInfo sync_job_from(const Statement& st);

// Row identities used for sealing; part of the on-disk format (changing them orphans rows).
inline constexpr std::string_view kRolloutKind = "rollout_config";
inline constexpr std::string_view kRolloutProvider = "rollout";
inline constexpr std::string_view kCrmKind = "crm_connection";
inline constexpr std::string_view kSyncJobKind = "sync_job";  // provider: the job id (legacy payloads)
inline constexpr std::string_view kSyncPayloadKind = "sync_payload";  // provider: the payload id
inline constexpr std::string_view kEventSubscriptionKind = "event_subscription";  // provider: the subscription id

}  // namespace detail
}  // namespace rollout_mcp::storage
