// Server configuration: the TOML file, ROLLOUT_MCP_<SECTION>_<KEY> environment overrides and defaults.
// Every key is described once (config.cpp) so file parsing, env overrides and validation agree.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rollout_mcp {

struct ServerSettings {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 8080;
    unsigned threads = 0;                       // 0 = one per core
    std::string mcp_path = "/mcp";
    std::vector<std::string> allowed_hosts = {"localhost", "127.0.0.1", "[::1]"};
    std::vector<std::string> allowed_origins;   // besides http(s)://<allowed loopback host>[:port]
    std::size_t max_body_bytes = 4 * 1024 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    std::chrono::milliseconds request_timeout{30'000};  // idle keep-alive + reading one request
    std::chrono::milliseconds write_timeout{30'000};    // one write to a client, SSE included
    std::chrono::milliseconds shutdown_grace{10'000};
    std::size_t max_connections = 10'000;
    // Inbound TLS (server/http/tls_certificates.hpp): both files set = every connection is TLS.
    std::string tls_cert_file;                  // PEM: the certificate, then its chain
    std::string tls_key_file;                   // PEM private key; refused when group or others may read it
    std::string tls_min_version = "1.2";        // "1.2" or "1.3"
    // TLS connections still in their handshake at most (unauthenticated memory: ~90 KiB each); more are
    // closed at accept until some finish.
    std::size_t max_tls_handshakes = 256;
    // A non-loopback bind needs TLS, or this stated: a reverse proxy in front terminates TLS.
    bool behind_tls_proxy = false;
    // Where Rollout reaches this server's webhooks (server/app/public_url.hpp), the same for every instance;
    // "" = no webhook subscriptions. Its host is accepted in Host on the hooks path only.
    std::string public_url;
    bool tls() const { return !tls_cert_file.empty(); }
};

struct McpSettings {
    std::chrono::seconds session_idle_timeout{1800};
    std::size_t max_sessions = 10'000;
    std::size_t max_sessions_per_team = 1'000;         // one team cannot take every session
    std::chrono::milliseconds sse_keepalive{15'000};
    std::chrono::milliseconds sse_retry{1'000};
    std::size_t replay_buffer_bytes = 1024 * 1024;   // per session, all its streams
    std::size_t replay_events_per_stream = 1024;
    std::chrono::seconds stream_retention{300};       // finished streams stay replayable this long
    std::size_t max_pending_requests = 64;            // per session
    std::size_t max_streams_per_session = 256;        // SSE streams kept per session (live + resumable)
    std::size_t tools_page_size = 50;
    std::size_t max_batch = 32;
    std::size_t max_json_depth = 64;
    std::size_t max_json_string_bytes = 1024 * 1024;   // longest string or key in a request body, as written
    std::size_t max_json_number_chars = 64;           // longest number in a request body
    bool test_fixtures = false;
    // Per-team pacing of /mcp requests (team_rate_limit.hpp): over the rate a request waits up to
    // max_pace_wait while at most max_paced_requests_per_team wait; beyond that, 429 with Retry-After.
    double requests_per_second_per_team = 100;        // 0: no limit
    std::size_t request_burst_per_team = 200;
    std::size_t max_paced_requests_per_team = 32;
    std::chrono::milliseconds max_pace_wait{1'000};
};

// SQLite: one file beside this process. PostgreSQL: a database several instances may share, so they need
// one configured master key (crypto::MasterKeyOptions::storage_is_postgresql).
enum class StorageBackend { sqlite, postgresql };

struct StorageSettings {
    StorageBackend backend = StorageBackend::sqlite;
    std::string data_dir = "./data";
    std::string database;                    // SQLite file; default <data_dir>/rollout-mcp.db
    std::string master_key_file;
    // libpq URI (postgresql:// or postgres://), required with the postgresql backend. It may hold a password
    // when it came from ROLLOUT_MCP_STORAGE_POSTGRESQL_URL: never log, print or put it in an error message.
    std::string postgresql_url;
};

// "sqlite" or "postgresql", as written in the config.
const char* storage_backend_name(StorageBackend backend);

struct AuthSettings {
    std::string mode = "api_key";            // "api_key" | "none" (loopback only)
};

struct RolloutClientSettings {
    std::chrono::milliseconds request_timeout{30'000};   // one Rollout call, queueing included
    std::size_t max_concurrent_per_host = 16;            // Rollout allows about 50 requests/s per team
    std::string extra_ca_file;                           // PEM trusted besides the system store (tests)
    // Origins a team may give as configure_rollout's baseUrl, normalized at load ("scheme://host:port");
    // empty: every team uses Rollout's own hosts. A hostile team must not aim the server anywhere else.
    std::vector<std::string> allowed_base_urls;
    double per_team_host_share = 0.25;                   // of one host's slots and of its waiting queue
    std::size_t max_queued_per_host = 256;               // calls waiting for a slot on one Rollout host
    std::size_t max_crm_connections_per_team = 16;       // enforced by the store (configure_crm_connection)
    // Teams whose opened settings stay in memory (server/sync/team_config_cache.hpp); 0: read them every time.
    std::size_t secret_cache_teams = 1'000;
    // Every Rollout request of a team passes a token bucket shared by every instance (server/sync/
    // rollout_rate_gate.hpp): Rollout allows a tenant about 50/s. Over it a request waits up to max_rate_wait,
    // then fails as rate_limited (the outbox retries later).
    double requests_per_second_per_team = 40;            // 0: no gate; else at least 0.001
    std::size_t request_burst_per_team = 10;
    std::chrono::milliseconds max_rate_wait{2'000};
};

// The durable sync outbox (docs/ARCHITECTURE.md, "The outbox state machine").
struct SyncSettings {
    std::chrono::milliseconds wait{10'000};           // a sync call waits this long for first attempts
    std::size_t max_attempts = 12;                    // then the job is dead
    std::chrono::seconds max_age{86'400};             // or when it is older than this
    std::chrono::milliseconds backoff_base{1'000};    // full jitter: random(0, min(max, base * 2^n))
    std::chrono::milliseconds backoff_max{600'000};
    std::size_t max_in_flight = 64;                   // jobs running at once, all teams
    std::size_t per_team_in_flight = 8;               // one team's backlog never takes every slot
    std::size_t per_crm_in_flight = 4;                // per connected CRM (team + CRM)
    std::chrono::milliseconds lease{300'000};         // a claim not finished by then is taken over
    std::chrono::milliseconds poll{1'000};            // due-job scan when nothing wakes the workers
    std::chrono::seconds keep_succeeded{7 * 86'400};  // succeeded jobs are purged after this
    std::chrono::seconds keep_failed{30 * 86'400};    // failed and dead jobs are purged after this
    std::chrono::seconds keep_idempotency{7 * 86'400};  // idempotency keys are forgotten after this
    std::size_t max_queued_per_team = 10'000;         // queued + running jobs of one team; more: retry later
};

// The CRM change log (README, "Changes from the CRM"): per team, at most max_per_team changes, none older than
// max_age; older ones are trimmed and a cursor before them answers truncated.
struct ChangeSettings {
    std::size_t max_per_team = 10'000;
    std::chrono::seconds max_age{30 * 86'400};
};

// MCP Events webhook delivery (io.modelcontextprotocol/events).
struct EventSettings {
    // Callback origins allowed although they are not https to a public address (tests, an in-house receiver).
    std::vector<std::string> allowed_callback_origins;
    std::size_t max_subscriptions_per_team = 16;
    std::size_t max_attempts = 8;                     // tries per event (and per challenge), then it is given up
    std::chrono::milliseconds backoff_base{1'000};    // full jitter, as the outbox
    std::chrono::milliseconds backoff_max{300'000};
    std::chrono::milliseconds poll{1'000};            // due-subscription scan
};

// Dead-job alerts.
struct AlertSettings {
    std::string webhook_url;                          // empty = log line and metric only
    std::string webhook_secret_file;                  // HMAC-SHA256 key for the signature header
    std::size_t webhook_max_attempts = 10;
};

struct LogSettings {
    std::string level = "info";              // debug | info | warning | error
};

struct Config {
    ServerSettings server;
    McpSettings mcp;
    StorageSettings storage;
    AuthSettings auth;
    RolloutClientSettings rollout;
    SyncSettings sync;
    AlertSettings alerts;
    LogSettings log;
    ChangeSettings changes;
    EventSettings events;
};

// A config that cannot be used: names the source (file or env var), the key and the reason.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Loads `path` (empty = defaults only), then applies environment overrides, then validates.
Config load_config(const std::string& path);

// Same, with an explicit environment (tests); each entry is "NAME=VALUE".
Config load_config(const std::string& path, const std::vector<std::string>& environment);

}  // namespace rollout_mcp
