// `rollout-mcp tenant|key|keys ...`: administration against the same database the server uses: the SQLite file
// (WAL mode lets it run beside a live server) or the PostgreSQL database every instance shares.
#include "server/admin/admin_commands.hpp"

#include "base/loopback.hpp"

#include "storage/sql_storage.hpp"

#include <iostream>

namespace rollout_mcp {

std::unique_ptr<storage::SqlStorage> open_storage(const Config& config) {
    crypto::ensure_sodium();
    crypto::MasterKeyOptions options;
    options.master_key_file = config.storage.master_key_file;
    options.data_dir = config.storage.data_dir;
    options.bind_is_loopback = is_loopback_host(config.server.bind);
    // Every instance on one PostgreSQL database needs the same key: no development key is made up.
    options.storage_is_postgresql = config.storage.backend == StorageBackend::postgresql;
    auto master = crypto::load_master_key(options);
    for (const auto& warning : master.warnings) std::cerr << "rollout-mcp: warning: " << warning << "\n";
    auto s = options.storage_is_postgresql
                 ? storage::SqlStorage::connect_postgres(config.storage.postgresql_url, std::move(master))
                 : storage::SqlStorage::open(config.storage.database, std::move(master));
    // The store enforces the per-team caps, so every caller (tools, admin commands) gets the same ones.
    storage::StorageLimits limits;
    limits.max_queued_jobs_per_tenant = config.sync.max_queued_per_team;
    limits.max_crm_connections_per_tenant = config.rollout.max_crm_connections_per_team;
    limits.max_running_per_tenant = config.sync.per_team_in_flight;
    limits.max_running_per_crm = config.sync.per_crm_in_flight;
    limits.max_changes_per_tenant = config.changes.max_per_team;
    limits.max_event_subscriptions_per_tenant = config.events.max_subscriptions_per_team;
    s->set_limits(limits);
    return s;
}

namespace {

int fail(const Error& e) {
    std::cerr << "rollout-mcp: " << e.message << "\n";
    return 1;
}

int tenant_create(storage::Storage& s, const std::string& name) {
    auto tenant = s.create_tenant(name);
    if (!tenant) return fail(tenant.error());
    auto key = s.issue_api_key(tenant->id);
    if (!key) return fail(key.error());
    std::cout << "tenant " << tenant->name << " (" << tenant->id << ") created\n"
              << "API key (shown once, store it now): " << key->key.text() << "\n";
    return 0;
}

int tenant_list(storage::Storage& s) {
    auto tenants = s.list_tenants();
    if (!tenants) return fail(tenants.error());
    for (const auto& t : *tenants) {
        auto keys = s.list_api_keys(t.id);
        std::size_t live = 0;
        if (keys)
            for (const auto& k : *keys) live += k.revoked_at ? 0 : 1;
        std::cout << t.name << "\t" << t.id << "\tkeys=" << live << "\n";
    }
    return 0;
}

int key_issue(storage::Storage& s, const std::string& tenant_name) {
    auto tenant = s.find_tenant_by_name(tenant_name);
    if (!tenant) return fail(tenant.error());
    auto key = s.issue_api_key(tenant->id);
    if (!key) return fail(key.error());
    std::cout << "API key for " << tenant->name << " (shown once, store it now): " << key->key.text() << "\n";
    return 0;
}

int key_revoke(storage::Storage& s, const std::string& prefix) {
    auto info = s.find_api_key(prefix);
    if (!info) return fail(info.error());
    auto done = s.revoke_api_key(info->tenant_id, prefix);
    if (!done) return fail(done.error());
    std::cout << "API key rmcp_" << info->prefix << "... revoked\n";
    return 0;
}

int keys_status(storage::Storage& s) {
    auto status = s.key_status();
    if (!status) return fail(status.error());
    std::cout << "master key: " << status->master_key_source << "\n"
              << "active data key: " << status->active_key_id << "\n"
              << "rows to re-seal: " << status->rows_to_reseal << "\n";
    for (const auto& k : status->keys)
        std::cout << "  key " << k.key_id << "\t" << k.state << "\trollout_configs=" << k.rollout_configs
                  << "\tcrm_connections=" << k.crm_connections << "\tsync_jobs=" << k.sync_jobs
                  << "\tsync_payloads=" << k.sync_payloads << "\n";
    return 0;
}

int keys_rotate(storage::Storage& s, std::size_t batch) {
    auto status = s.key_status();
    if (!status) return fail(status.error());
    // Resumable: a rotation interrupted earlier leaves rows under a retired key; finish those first.
    if (status->rows_to_reseal == 0) {
        auto id = s.rotate_data_key();
        if (!id) return fail(id.error());
        std::cout << "new data key " << *id << "\n";
    } else {
        std::cout << "resuming an interrupted rotation: " << status->rows_to_reseal << " rows left\n";
    }
    for (;;) {
        auto progress = s.reseal_batch(batch);
        if (!progress) return fail(progress.error());
        std::cout << "re-sealed " << progress->resealed << ", remaining " << progress->remaining << "\n";
        if (progress->remaining == 0) break;
    }
    auto destroyed = s.destroy_unused_keys();
    if (!destroyed) return fail(destroyed.error());
    auto checkpoint = s.checkpoint();
    if (!checkpoint) return fail(checkpoint.error());
    std::cout << "rotation complete; " << *destroyed << " old data key(s) destroyed\n";
    return 0;
}

int keys_rewrap(storage::Storage& s, const std::string& file) {
    auto master = crypto::read_master_key_file(file);
    auto done = s.rewrap_master(std::move(master));
    if (!done) return fail(done.error());
    std::cout << "data keys re-wrapped under the master key in " << file
              << "; configure that key before the next start\n";
    return 0;
}

}  // namespace

int run_admin_command(const Config& config, const AdminRequest& r) {
    auto storage = open_storage(config);
    if (r.command == "tenant create") return tenant_create(*storage, r.argument);
    if (r.command == "tenant list") return tenant_list(*storage);
    if (r.command == "key issue") return key_issue(*storage, r.argument);
    if (r.command == "key revoke") return key_revoke(*storage, r.argument);
    if (r.command == "keys status") return keys_status(*storage);
    if (r.command == "keys rotate") return keys_rotate(*storage, r.batch_size);
    if (r.command == "keys rewrap") return keys_rewrap(*storage, r.new_master_key_file);
    if (r.command.rfind("outbox ", 0) == 0) return run_outbox_command(*storage, r);
    std::cerr << "rollout-mcp: unknown command " << r.command << "\n";
    return 2;
}

}  // namespace rollout_mcp
