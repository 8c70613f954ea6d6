// rollout-mcp: the command line. `serve` runs the MCP server; `check-config` validates a config file;
// `tenant`, `key`, `keys` and `outbox` administer teams, API keys, data keys and sync jobs.
#include "server/admin/admin_commands.hpp"
#include "server/app/config.hpp"
#include "server/app/io_threads.hpp"
#include "server/app/log.hpp"
#include "server/app/periodic_tasks.hpp"
#include "server/app/readiness.hpp"
#include "server/app/serve_lock.hpp"
#include "server/app/shutdown_watchdog.hpp"
#include "server/fixtures/fixture_tools.hpp"
#include "server/http/api_key_auth.hpp"
#include "server/http/http_server.hpp"
#include "server/http/shared_session_store.hpp"
#include "server/http/tls_certificates.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/session_settings.hpp"
#include "server/mcp/tool_registry.hpp"
#include "server/sync/rollout_rate_gate.hpp"
#include "server/sync/event_delivery.hpp"
#include "server/sync/sync_alerts.hpp"
#include "server/sync/sync_runner.hpp"
#include "server/sync/outbox_notifications.hpp"
#include "server/app/public_url.hpp"
#include "server/sync/hook_processor.hpp"
#include "server/sync/hook_subscriptions.hpp"
#include "server/sync/hook_upkeep.hpp"
#include "server/sync/rollout_hooks.hpp"
#include "server/sync/sync_worker.hpp"
#include "storage/postgres_listener.hpp"
#include "server/tools/change_tools.hpp"
#include "server/tools/rollout_tools.hpp"
#include "server/tools/sync_tasks.hpp"
#include "storage/sql_storage.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <CLI/CLI.hpp>

#include <condition_variable>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <sched.h>

namespace rollout_mcp {
namespace {
namespace asio = boost::asio;

std::string ensure_default_tenant(storage::Storage& s) {
    if (auto t = s.find_tenant_by_name("default")) return t->id;
    auto created = s.create_tenant("default");
    if (!created) throw std::runtime_error("cannot create the default tenant: " + created.error().message);
    return created->id;
}

void write_port_file(const std::string& path, std::uint16_t port) {
    if (path.empty()) return;
    {
        std::ofstream out(path + ".tmp");
        out << port << "\n";
    }
    std::rename((path + ".tmp").c_str(), path.c_str());
}

// One I/O thread per CPU this process may run on (taskset/cgroup cpusets shrink it) unless [server] threads
// says otherwise, so a server pinned to one core does not make two threads fight over it.
unsigned io_thread_count(const Config& config) {
    if (config.server.threads) return config.server.threads;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
    return std::max(1u, std::thread::hardware_concurrency());
}

int serve(const Config& config, const std::string& port_file) {
    // SIGHUP's default ends the process; until the signal set below takes it, a reload sent early (an ACME
    // hook right after a restart) is ignored, not fatal.
    std::signal(SIGHUP, SIG_IGN);
    log::set_level(config.log.level);
    crypto::disable_core_dumps();
    // Before anything touches the database: a second `serve` on a SQLite file must change nothing. Instances on
    // one PostgreSQL database share it by design (claims, caps and keys live in the database).
    std::optional<ServeLock> lock;
    if (config.storage.backend == StorageBackend::sqlite) lock.emplace(ServeLock::acquire(config.storage.database));
    log::info("storage", {{"backend", storage_backend_name(config.storage.backend)}});
    // First, so it is destroyed last: every I/O object below is made on it. run() returns once the
    // shutdown has ended every coroutine; then the objects go in reverse order, the storage thread
    // finishing its queue (the last-use flush included) before the io_context goes.
    IoThreads io(io_thread_count(config));
    asio::io_context& ioc = io.main_context();
    // Before the storage thread: its refreshes run there, so it must outlive that thread's last task.
    Readiness readiness;
    StorageExecutor storage(open_storage(config));

    rollout::HttpOptions http;
    http.timeout = config.rollout.request_timeout;
    http.max_concurrent_per_host = config.rollout.max_concurrent_per_host;
    http.per_team_host_share = config.rollout.per_team_host_share;
    http.max_queued_per_host = config.rollout.max_queued_per_host;
    // The only non-public origins a team's calls may reach: the ones the operator listed.
    http.allowed_origins = config.rollout.allowed_base_urls;
    http.observer = rollout_call_metrics();
    http.rate_limit_observer = rollout_rate_limit_metrics();
    if (!config.rollout.extra_ca_file.empty()) {
        std::ifstream in(config.rollout.extra_ca_file);
        if (!in) throw std::runtime_error("rollout.extra_ca_file: cannot read " + config.rollout.extra_ca_file);
        http.extra_ca_pem.assign(std::istreambuf_iterator<char>(in), {});
    }
    TeamRollout team_rollout(storage, rollout::HttpPool::create(http), config.rollout.allowed_base_urls,
                             std::chrono::seconds(60), config.rollout.secret_cache_teams);
    std::shared_ptr<Authenticator> auth;
    if (config.auth.mode == "none") {   // the `default` team, created on first start
        auth = make_single_tenant_auth(ensure_default_tenant(storage.direct()));
        log::warning("auth.mode = \"none\": every request acts as the default team (loopback only)");
    } else {
        auth = make_api_key_authenticator(storage, [&team_rollout](const std::string& tenant, std::int64_t version) {
            team_rollout.observe_config_version(tenant, version);
        });
    }
    // The team's Rollout request rate, in the database: global across instances (docs/ARCHITECTURE.md).
    team_rollout.set_request_gate(
        RolloutRateGate::create(ioc.get_executor(), storage, rollout_rate_settings(config.rollout)));
    warn_disallowed_base_urls(storage.direct(), team_rollout);   // before any worker can pick up a job
    rollout::HttpOptions alert_http;   // its own pool: alerts are not Rollout calls
    alert_http.timeout = std::chrono::seconds(10);
    alert_http.extra_ca_pem = http.extra_ca_pem;
    auto alert_pool = rollout::HttpPool::create(alert_http);
    auto alerts = AlertSender::from_config(config.alerts, alert_pool);
    ToolRegistry tools;
    SyncRunner runner(team_rollout);
    SyncWorker worker(storage, config.sync, [&runner](const storage::ClaimedJob& job) { return runner.run(job); },
                      alerts);
    // 2026-07-28 requests: listen streams, tasks, and input-required state sealed under a master-derived key.
    mcp::ListenHub listen_hub;
    mcp::TaskRouter task_router;
    const auto state_key = storage.direct().derive_purpose_key(1, "mrtrstat");
    const mcp::RequestStateCodec request_state(
        std::string_view(reinterpret_cast<const char*>(state_key.data()), state_key.size()), std::chrono::minutes(10));
    SessionlessServices sessionless{&listen_hub, &task_router, &request_state};
    const auto task_key = storage.direct().derive_purpose_key(2, "syncttid");
    const SyncToolsDeps sync_deps{&team_rollout, &worker, config.sync.wait, config.sync.keep_idempotency,
                                  std::make_shared<const std::string>(reinterpret_cast<const char*>(task_key.data()),
                                                                      task_key.size())};
    // Connections are subscribed to Rollout's webhooks at [server] public_url (validated when the config loaded).
    const auto public_url = parse_public_url(config.server.public_url);
    HookSubscriptions hook_subscriptions(team_rollout, config.server.public_url.empty() || !public_url
                                                           ? std::string() : public_url->origin + public_url->path_prefix);
    register_rollout_tools(tools, team_rollout, sync_deps, &hook_subscriptions);
    task_router.add("st_", make_sync_task_backend(sync_deps, config.sync.keep_idempotency));
    // The CRM change feed: list_crm_changes for every client, MCP Events (poll and webhooks) for 2026-07-28 ones.
    EventDelivery event_delivery(storage, config.events, make_event_pool(config.events, http.extra_ca_pem));
    const auto subscription_key = storage.direct().derive_purpose_key(3, "evsubsid");
    ChangeDeps change_deps{&storage, config.events,
                           std::make_shared<const std::string>(reinterpret_cast<const char*>(subscription_key.data()),
                                                               subscription_key.size()),
                           &change_notice, hook_subscriptions.public_url(), [&event_delivery] { event_delivery.wake(); }};
    register_change_tools(tools, change_deps);
    const auto change_events = make_change_events(change_deps);
    sessionless.events = change_events.get();
    if (config.mcp.test_fixtures) {
        register_fixture_tools(tools, sessionless);
        log::warning("test fixture tools are registered ([mcp] test_fixtures = true)");
    }
    // 2025 sessions: in memory with SQLite (one process); in the database with PostgreSQL, so any instance serves them.
    std::unique_ptr<mcp::SessionStore> sessions;
    SharedSessionStore* shared_sessions = nullptr;
    if (config.storage.backend == StorageBackend::postgresql) {
        auto shared = std::make_unique<SharedSessionStore>(session_store_settings(config), storage);
        shared_sessions = shared.get();
        sessions = std::move(shared);
    } else {
        sessions = mcp::make_in_memory_session_store(session_store_settings(config));
    }
    McpEndpoint endpoint(config, tools, *sessions, *auth, sessionless);
    readiness.set_webhooks_reachable(!hook_subscriptions.public_url().empty());
    readiness.refresh_now(storage.direct());
    std::shared_ptr<TlsCertificates> tls;
    if (config.server.tls()) {
        tls = std::make_shared<TlsCertificates>(config.server);   // throws naming the file
        const auto status = tls->status();
        if (status.at("expiresInSeconds").as_int64() < 14 * 86'400)
            log::warning("the TLS certificate expires within 14 days, or has expired: renew it and send SIGHUP",
                         {{"not_after", status.at("notAfter")}});
    }
    HttpServer server(ioc.get_executor(), config, endpoint, *sessions, [&readiness] { return readiness.state(); }, tls,
                      [&io] { return io.next(); });
    // Rollout's webhooks (served when [server] public_url is set): stored by the receiver, then processed into
    // the change log by whichever instance claims them.
    HookProcessor hook_processor(storage, team_rollout, {}, [&event_delivery] { event_delivery.wake(); });
    // Connections without working webhooks: subscribed again, and their records polled meanwhile.
    HookUpkeep hook_upkeep(storage, hook_subscriptions, hook_processor,
                           {.requests_per_second_per_team = config.rollout.requests_per_second_per_team});
    RolloutHookReceiver hooks(storage);
    hooks.on_stored([&hook_processor] { hook_processor.wake(); });
    server.set_hook_receiver(hooks);
    PeriodicTasks periodic(ioc.get_executor());
    periodic.every(std::chrono::seconds(5), [&] { readiness.refresh(storage); });
    if (tls) periodic.every(std::chrono::hours(12), [&tls] { tls->rotate_ticket_key(); });
    // last_used_at is remembered in memory per request and written in one transaction a minute.
    const auto flush_last_used = [&storage] {
        storage.post([](storage::Storage& s) {
            if (auto r = s.flush_last_used(); !r) log::warning("last-use flush failed", {{"error", r.error().message}});
        });
    };
    periodic.every(std::chrono::seconds(60), flush_last_used);
    // Change-log, Events-subscription and webhook-inbox retention, in bounded steps on the storage thread.
    periodic.every(std::chrono::seconds(60), [&storage, max_age = config.changes.max_age] {
        storage.post([max_age](storage::Storage& s) { trim_change_state(s, max_age); });
    });

    ShutdownWatchdog watchdog;
    // Each step ends what it started: after the last, nothing waits on the io_context. Attempts already
    // running finish during the grace (their Rollout calls and slot waits end by themselves); idle pooled
    // connections wait on nothing and close with their pools.
    const auto shut_down = [&]() -> asio::awaitable<void> {
        watchdog.arm(config.server.shutdown_grace + std::chrono::seconds(3));
        worker.stop();                // no new claims; the scheduling and alert loops end
        event_delivery.stop();
        hook_upkeep.stop();
        hook_processor.stop();
        periodic.stop();
        co_await server.shutdown();   // requests in flight finish, then connections and sessions close
        flush_last_used();
        io.release();                 // each I/O thread returns once its own work has ended, the main one last
    };
    // One signal set, so nothing has to cancel it: SIGINT/SIGTERM start the shutdown and leave no wait
    // pending; SIGHUP reloads the TLS certificate and key (open connections keep the pair they started
    // with) and waits again.
    asio::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
    std::function<void()> await_signal = [&] {
        signals.async_wait([&](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            if (signal != SIGHUP) {
                asio::co_spawn(ioc, shut_down(), asio::detached);
                return;
            }
            await_signal();   // first: whatever the reload does, SIGTERM is still heard
            try {
                if (!tls) {
                    log::info("SIGHUP: no TLS certificate to reload ([server] tls_cert_file is not set)");
                } else if (auto reloaded = tls->reload(); !reloaded) {
                    log::error("SIGHUP: the new TLS certificate or key is refused; still serving the old pair",
                               {{"error", reloaded.error().message}});
                } else {
                    const auto status = tls->status();
                    const bool lapsed = status.at("expiresInSeconds").as_int64() <= 0;
                    log::write(lapsed ? log::Level::warning : log::Level::info,
                               lapsed ? "SIGHUP: TLS certificate reloaded, but it has expired"
                                      : "SIGHUP: TLS certificate reloaded",
                               {{"not_after", status.at("notAfter")}});
                }
            } catch (const std::exception& e) {
                log::error("SIGHUP: the TLS reload failed; still serving the old pair", {{"error", e.what()}});
            }
        });
    };
    await_signal();

    const auto port = server.listen();
    server.start();
    // Workers start once the listener is bound and the lock is held: a server that cannot serve claims nothing.
    worker.start(ioc.get_executor(), [&io] { return io.next(); });
    event_delivery.start(ioc.get_executor());
    hook_processor.start(ioc.get_executor());
    hook_upkeep.start(ioc.get_executor());
    // Several instances on one PostgreSQL database: what another one queues or records wakes this one's worker and
    // its waiting tool calls. Declared after the worker, so it stops first.
    // A tool-list change made here reaches the other instances' listen streams the same way.
    const InstanceNotifications heard{&worker, new_instance_id(), [&listen_hub] { listen_hub.tools_list_changed_here(); }};
    std::unique_ptr<storage::PgListener> outbox_listener;
    if (config.storage.backend == StorageBackend::postgresql) {
        outbox_listener = storage::PgListener::start(
            config.storage.postgresql_url,
            [&heard, shared_sessions](std::string_view channel, std::string_view payload) {
                shared_sessions->hear(channel, payload);
                hear_instance_notification(heard, channel, payload);
            });
        listen_hub.set_announcer([&storage, &heard] { announce_tools_list_changed(storage, heard.instance_id); });
    }
    write_port_file(port_file, port);
    log::info("listening", {{"address", config.server.bind}, {"port", port}, {"mcp_path", config.server.mcp_path}});
    io.run();
    watchdog.disarm();
    return 0;
}

}  // namespace
}  // namespace rollout_mcp

int main(int argc, char** argv) {
    using namespace rollout_mcp;
    CLI::App app{"rollout-mcp: sync REanna Router tours and feedback into CRMs through Rollout, over MCP"};
    app.require_subcommand(1);
    std::string config_path;
    std::string port_file;
    AdminRequest admin;
    app.add_option("-c,--config", config_path, "TOML config file (see config.example.toml)");

    auto* serve_cmd = app.add_subcommand("serve", "Run the MCP server");
    serve_cmd->add_option("-c,--config", config_path, "TOML config file (see config.example.toml)");
    serve_cmd->add_option("--port-file", port_file, "Write the bound port to this file once listening");
    auto* check_cmd = app.add_subcommand("check-config", "Validate a config file and exit");
    check_cmd->add_option("-c,--config", config_path, "TOML config file")->required();

    auto* tenant_cmd = app.add_subcommand("tenant", "Manage teams")->require_subcommand(1);
    tenant_cmd->add_subcommand("create", "Create a team and print its first API key once")
        ->add_option("NAME", admin.argument, "Team name")->required();
    tenant_cmd->add_subcommand("list", "List teams");
    auto* key_cmd = app.add_subcommand("key", "Manage API keys")->require_subcommand(1);
    key_cmd->add_subcommand("issue", "Issue another API key for a team (printed once)")
        ->add_option("TENANT", admin.argument, "Team name")->required();
    key_cmd->add_subcommand("revoke", "Revoke an API key")
        ->add_option("KEY_PREFIX", admin.argument, "The key's prefix (rmcp_XXXXXXXX)")->required();
    auto* keys_cmd = app.add_subcommand("keys", "Manage encryption keys")->require_subcommand(1);
    keys_cmd->add_subcommand("status", "Show the master key source, data keys and rows per key");
    keys_cmd->add_subcommand("rotate", "New data key; re-seal every row (resumable)")
        ->add_option("--batch", admin.batch_size, "Rows per re-seal transaction");
    keys_cmd->add_subcommand("rewrap", "Re-wrap the data keys under a new master key")
        ->add_option("--new-master-key-file", admin.new_master_key_file, "File holding the new master key")
        ->required();
    auto* outbox_cmd = app.add_subcommand("outbox", "Inspect and re-queue durable sync jobs")->require_subcommand(1);
    auto* outbox_list = outbox_cmd->add_subcommand("list", "List sync jobs, newest first");
    auto* outbox_retry = outbox_cmd->add_subcommand("retry", "Re-queue failed or dead sync jobs");
    outbox_cmd->add_subcommand("stats", "Jobs by status, due jobs, pending alerts");
    for (auto* sub : {outbox_list, outbox_retry}) {
        sub->add_option("--tenant", admin.tenant, "Team name");
        sub->add_option("--status", admin.status, "queued, running, succeeded, failed or dead");
        sub->add_option("--job", admin.job, "Job id");
        sub->add_option("--tour", admin.tour, "Tour id");
        sub->add_flag("--json", admin.json, "One JSON object per line");
    }
    outbox_list->add_option("--limit", admin.limit, "At most this many jobs (default 50, max 1000)");
    outbox_retry->add_option("--limit", admin.limit, "At most this many jobs");
    for (auto* group : {tenant_cmd, key_cmd, keys_cmd, outbox_cmd})
        for (auto* sub : group->get_subcommands({})) sub->add_option("-c,--config", config_path, "TOML config file");
    CLI11_PARSE(app, argc, argv);

    Config config;
    try {
        config = load_config(config_path);
    } catch (const ConfigError& e) {
        std::cerr << "rollout-mcp: configuration error: " << e.what() << "\n";
        return 2;
    }
    if (*check_cmd) {
        std::cout << "configuration OK: " << (config_path.empty() ? "(defaults)" : config_path) << "\n";
        return 0;
    }
    try {
        if (*serve_cmd) return serve(config, port_file);
        for (auto* group : {tenant_cmd, key_cmd, keys_cmd, outbox_cmd})
            for (auto* sub : group->get_subcommands({}))
                if (*sub) admin.command = group->get_name() + " " + sub->get_name();
        return run_admin_command(config, admin);
    } catch (const std::exception& e) {
        log::error("start-up failed", {{"error", e.what()}});
        return 1;
    }
}
