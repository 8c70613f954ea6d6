// Config loading: defaults, TOML keys of every type, errors naming file and key, env overrides, validation.
#include "server/app/config.hpp"
#include "base/loopback.hpp"
#include "tests/server/config_file.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace rollout_mcp {
namespace {
using namespace std::chrono_literals;
using test::ConfigFile;
using test::env_error_of;
using test::error_of;

TEST(Config, Defaults) {
    auto c = load_config("", {});
    EXPECT_EQ(c.server.bind, "127.0.0.1");
    EXPECT_EQ(c.server.port, 8080);
    EXPECT_EQ(c.server.mcp_path, "/mcp");
    EXPECT_EQ(c.server.max_body_bytes, 4u * 1024 * 1024);
    EXPECT_EQ(c.server.request_timeout, 30s);
    EXPECT_EQ(c.mcp.session_idle_timeout, 1800s);
    EXPECT_EQ(c.mcp.sse_keepalive, 15s);
    EXPECT_EQ(c.mcp.max_batch, 32u);
    EXPECT_EQ(c.mcp.max_json_string_bytes, 1024u * 1024);
    EXPECT_EQ(c.mcp.max_json_number_chars, 64u);
    EXPECT_FALSE(c.mcp.test_fixtures);
    EXPECT_EQ(c.auth.mode, "api_key");
    EXPECT_EQ(c.log.level, "info");
    EXPECT_EQ(c.storage.database, "./data/rollout-mcp.db");   // derived from data_dir
    EXPECT_EQ(c.server.allowed_hosts, (std::vector<std::string>{"localhost", "127.0.0.1", "[::1]"}));
}

TEST(Config, EveryValueTypeFromToml) {
    ConfigFile file(R"(
[server]
bind = "127.0.0.2"
port = 9001
threads = 3
allowed_hosts = ["localhost", "mcp.internal"]
allowed_origins = []
request_timeout_ms = 2500
max_body_bytes = 2048
[mcp]
session_idle_timeout_s = 60
test_fixtures = true
tools_page_size = 7
[storage]
data_dir = "/var/lib/x"
[auth]
mode = "none"
[log]
level = "debug"
)");
    auto c = load_config(file.path(), {});
    EXPECT_EQ(c.server.bind, "127.0.0.2");
    EXPECT_EQ(c.server.port, 9001);
    EXPECT_EQ(c.server.threads, 3u);
    EXPECT_EQ(c.server.allowed_hosts, (std::vector<std::string>{"localhost", "mcp.internal"}));
    EXPECT_TRUE(c.server.allowed_origins.empty());
    EXPECT_EQ(c.server.request_timeout, 2500ms);
    EXPECT_EQ(c.server.max_body_bytes, 2048u);
    EXPECT_EQ(c.mcp.session_idle_timeout, 60s);
    EXPECT_TRUE(c.mcp.test_fixtures);
    EXPECT_EQ(c.mcp.tools_page_size, 7u);
    EXPECT_EQ(c.storage.database, "/var/lib/x/rollout-mcp.db");
    EXPECT_EQ(c.auth.mode, "none");
    EXPECT_EQ(c.log.level, "debug");
}

TEST(Config, UnknownSectionNamesFileAndSection) {
    ConfigFile file("[srever]\nport = 1\n");
    try {
        load_config(file.path(), {});
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(file.path()), std::string::npos) << what;
        EXPECT_NE(what.find("srever"), std::string::npos) << what;
        EXPECT_NE(what.find("unknown section"), std::string::npos) << what;
    }
}

TEST(Config, UnknownKeyNamesFileAndKey) {
    ConfigFile file("[server]\nprot = 1\n");
    try {
        load_config(file.path(), {});
        FAIL() << "expected ConfigError";
    } catch (const ConfigError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(file.path()), std::string::npos) << what;
        EXPECT_NE(what.find("server.prot"), std::string::npos) << what;
        EXPECT_NE(what.find("unknown key"), std::string::npos) << what;
    }
}

TEST(Config, SyntaxErrorNamesFileLineAndColumn) {
    auto what = error_of("[server]\nport = = 3\n");
    EXPECT_NE(what.find(".toml:2:"), std::string::npos) << what;
}

TEST(Config, WrongTypesAreRejectedWithTheKey) {
    struct Case {
        const char* text;
        const char* key;
        const char* reason;
    };
    for (auto c : {Case{"[server]\nport = \"80\"", "server.port", "must be an integer"},
                   Case{"[server]\nport = 80.5", "server.port", "must be an integer"},
                   Case{"[server]\nbind = 1", "server.bind", "must be a string"},
                   Case{"[mcp]\ntest_fixtures = 1", "mcp.test_fixtures", "true or false"},
                   Case{"[mcp]\ntest_fixtures = \"true\"", "mcp.test_fixtures", "true or false"},
                   Case{"[server]\nallowed_hosts = \"localhost\"", "server.allowed_hosts", "array of strings"},
                   Case{"[server]\nallowed_hosts = [1]", "server.allowed_hosts", "array of strings"},
                   Case{"server = 1", "server", "must be a table"}}) {
        auto what = error_of(c.text);
        EXPECT_NE(what.find(c.key), std::string::npos) << c.text << " -> " << what;
        EXPECT_NE(what.find(c.reason), std::string::npos) << c.text << " -> " << what;
    }
}

TEST(Config, RangesAreEnforced) {
    for (const char* text : {"[server]\nport = 65536", "[server]\nport = -1", "[server]\nmax_body_bytes = 10",
                             "[server]\nrequest_timeout_ms = 99", "[server]\nthreads = 257",
                             "[mcp]\ntools_page_size = 0", "[mcp]\nmax_sessions = 0", "[mcp]\nmax_json_depth = 3",
                             "[mcp]\nmax_json_string_bytes = 1023", "[mcp]\nmax_json_number_chars = 23",
                             "[mcp]\nsse_keepalive_ms = 5"}) {
        auto what = error_of(text);
        EXPECT_NE(what.find("must be between"), std::string::npos) << text << " -> " << what;
    }
    EXPECT_EQ(error_of("[server]\nport = 65535"), "");
    EXPECT_EQ(error_of("[server]\nport = 0"), "");
}

TEST(Config, EnvironmentOverridesTheFile) {
    ConfigFile file("[server]\nport = 9001\n[mcp]\nmax_sessions = 5\n");
    auto c = load_config(file.path(), {"ROLLOUT_MCP_SERVER_PORT=9100", "ROLLOUT_MCP_MCP_TEST_FIXTURES=true",
                                       "ROLLOUT_MCP_SERVER_ALLOWED_HOSTS= a.example , b ,,c",
                                       "ROLLOUT_MCP_MCP_SESSION_IDLE_TIMEOUT_S=5", "ROLLOUT_MCP_LOG_LEVEL=warning",
                                       "ROLLOUT_MCP_SERVER_WRITE_TIMEOUT_MS=1234", "PATH=/usr/bin", "NOEQUALS"});
    EXPECT_EQ(c.server.port, 9100);
    EXPECT_EQ(c.mcp.max_sessions, 5u);   // from the file, untouched
    EXPECT_TRUE(c.mcp.test_fixtures);
    EXPECT_EQ(c.server.allowed_hosts, (std::vector<std::string>{"a.example", "b", "c"}));
    EXPECT_EQ(c.mcp.session_idle_timeout, 5s);
    EXPECT_EQ(c.log.level, "warning");
    EXPECT_EQ(c.server.write_timeout, 1234ms);
}

TEST(Config, EnvironmentBooleansAcceptOneAndZero) {
    EXPECT_TRUE(load_config("", {"ROLLOUT_MCP_MCP_TEST_FIXTURES=1"}).mcp.test_fixtures);
    EXPECT_FALSE(load_config("", {"ROLLOUT_MCP_MCP_TEST_FIXTURES=0"}).mcp.test_fixtures);
}

TEST(Config, BadEnvironmentValuesNameTheVariable) {
    for (const char* entry : {"ROLLOUT_MCP_SERVER_PORT=90x", "ROLLOUT_MCP_SERVER_PORT=", "ROLLOUT_MCP_SERVER_PORT=99999",
                              "ROLLOUT_MCP_SERVER_PORT=-5", "ROLLOUT_MCP_SERVER_PORT=99999999999999999999999",
                              "ROLLOUT_MCP_MCP_TEST_FIXTURES=yes"}) {
        const std::string e = entry;
        auto what = env_error_of({e});
        EXPECT_NE(what.find("environment " + e.substr(0, e.find('='))), std::string::npos) << entry << " -> " << what;
    }
}

TEST(Config, AuthNoneRequiresALoopbackBind) {
    for (const char* bind : {"0.0.0.0", "10.1.2.3", "::", "192.168.1.1"}) {
        auto what = env_error_of({"ROLLOUT_MCP_AUTH_MODE=none", std::string("ROLLOUT_MCP_SERVER_BIND=") + bind});
        EXPECT_NE(what.find("auth.mode"), std::string::npos) << bind << " -> " << what;
    }
    for (const char* bind : {"127.0.0.1", "127.0.0.5", "::1", "localhost"})
        EXPECT_NO_THROW(load_config("", {"ROLLOUT_MCP_AUTH_MODE=none", std::string("ROLLOUT_MCP_SERVER_BIND=") + bind}))
            << bind;
    // api_key may bind anywhere once TLS is ours or a proxy's.
    EXPECT_NO_THROW(load_config("", {"ROLLOUT_MCP_SERVER_BIND=0.0.0.0", "ROLLOUT_MCP_SERVER_BEHIND_TLS_PROXY=true"}));
}

// Off loopback, API keys would cross the network in clear: TLS (files) or a stated TLS proxy is required.
// (A configuration check only: nothing binds a non-loopback address in tests.)
TEST(Config, NonLoopbackBindRequiresTlsOrAStatedProxy) {
    for (const char* bind : {"0.0.0.0", "10.1.2.3", "::", "192.168.1.1"}) {
        auto what = env_error_of({std::string("ROLLOUT_MCP_SERVER_BIND=") + bind});
        EXPECT_NE(what.find("server.bind"), std::string::npos) << bind << " -> " << what;
        EXPECT_NE(what.find("behind_tls_proxy"), std::string::npos) << what;
        EXPECT_NO_THROW(load_config("", {std::string("ROLLOUT_MCP_SERVER_BIND=") + bind,
                                         "ROLLOUT_MCP_SERVER_TLS_CERT_FILE=/etc/rollout-mcp/cert.pem",
                                         "ROLLOUT_MCP_SERVER_TLS_KEY_FILE=/etc/rollout-mcp/key.pem"}))
            << bind;
    }
    EXPECT_NE(env_error_of({"ROLLOUT_MCP_SERVER_TLS_CERT_FILE=/x/cert.pem"}).find("server.tls_key_file"),
              std::string::npos);
    EXPECT_NE(env_error_of({"ROLLOUT_MCP_SERVER_TLS_KEY_FILE=/x/key.pem"}).find("server.tls_cert_file"),
              std::string::npos);
    EXPECT_NE(env_error_of({"ROLLOUT_MCP_SERVER_TLS_MIN_VERSION=1.1"}).find("server.tls_min_version"),
              std::string::npos);
    EXPECT_EQ(env_error_of({"ROLLOUT_MCP_SERVER_TLS_MIN_VERSION=1.3"}), "");
}

TEST(Config, ValidationErrors) {
    EXPECT_NE(error_of("[auth]\nmode = \"basic\"").find("auth.mode"), std::string::npos);
    EXPECT_NE(error_of("[server]\nmcp_path = \"mcp\"").find("server.mcp_path"), std::string::npos);
    EXPECT_NE(error_of("[server]\nbind = \"\"").find("server.bind"), std::string::npos);
    EXPECT_NE(error_of("[log]\nlevel = \"verbose\"").find("log.level"), std::string::npos);
    EXPECT_NE(error_of("[server]\nallowed_hosts = [\"bad host\"]").find("server.allowed_hosts"), std::string::npos);
    EXPECT_NE(error_of("[server]\nallowed_origins = [\"\"]").find("server.allowed_origins"), std::string::npos);
    EXPECT_NE(error_of("[storage]\ndata_dir = \"\"").find("storage.data_dir"), std::string::npos);
    // A rate so small its wait cannot be represented is refused; 0 (off) and 0.001 are fine.
    EXPECT_NE(error_of("[mcp]\nrequests_per_second_per_team = 1e-300").find("mcp.requests_per_second_per_team"),
              std::string::npos);
    EXPECT_EQ(error_of("[mcp]\nrequests_per_second_per_team = 0.001"), "");
    EXPECT_EQ(error_of("[mcp]\nrequests_per_second_per_team = 0"), "");
}

TEST(Config, SyncAndAlertSettings) {
    auto c = load_config("", {"ROLLOUT_MCP_SYNC_WAIT_MS=2500", "ROLLOUT_MCP_SYNC_PER_TEAM_IN_FLIGHT=3",
                              "ROLLOUT_MCP_ALERTS_WEBHOOK_URL=https://ops.example/hook",
                              "ROLLOUT_MCP_ALERTS_WEBHOOK_SECRET_FILE=/run/secrets/hook"});
    EXPECT_EQ(c.sync.wait, std::chrono::milliseconds(2500));
    EXPECT_EQ(c.sync.per_team_in_flight, 3u);
    EXPECT_EQ(c.alerts.webhook_url, "https://ops.example/hook");
    EXPECT_NE(error_of("[sync]\nbackoff_base_ms = 5000\nbackoff_max_ms = 1000").find("sync.backoff_max_ms"), std::string::npos);
    EXPECT_NE(error_of("[sync]\nlease_ms = 20000").find("sync.lease_ms"), std::string::npos);   // < request timeout
    EXPECT_NE(error_of("[alerts]\nwebhook_url = \"https://ops.example/hook\"").find("alerts.webhook_secret_file"),
              std::string::npos);   // alerts are always signed
    EXPECT_NE(error_of("[sync]\nmax_in_flight = 0").find("sync.max_in_flight"), std::string::npos);
}

// Per-team caps and retention: defaults, file, environment and bounds.
TEST(Config, SyncCapsAndRetention) {
    const Config d = load_config("", {});
    EXPECT_EQ(d.sync.max_queued_per_team, 10'000u);
    EXPECT_EQ(d.sync.keep_failed, std::chrono::seconds(30 * 86'400));
    EXPECT_EQ(d.sync.keep_idempotency, std::chrono::seconds(7 * 86'400));
    EXPECT_EQ(d.rollout.max_crm_connections_per_team, 16u);
    auto c = load_config("", {"ROLLOUT_MCP_SYNC_MAX_QUEUED_PER_TEAM=50", "ROLLOUT_MCP_SYNC_KEEP_FAILED_S=3600",
                              "ROLLOUT_MCP_SYNC_KEEP_IDEMPOTENCY_S=600",
                              "ROLLOUT_MCP_ROLLOUT_MAX_CRM_CONNECTIONS_PER_TEAM=3"});
    EXPECT_EQ(c.sync.max_queued_per_team, 50u);
    EXPECT_EQ(c.sync.keep_failed, std::chrono::seconds(3600));
    EXPECT_EQ(c.sync.keep_idempotency, std::chrono::seconds(600));
    EXPECT_EQ(c.rollout.max_crm_connections_per_team, 3u);
    EXPECT_NE(error_of("[sync]\nmax_queued_per_team = 0").find("max_queued_per_team"), std::string::npos);
    EXPECT_NE(error_of("[sync]\nkeep_failed_s = 1").find("keep_failed_s"), std::string::npos);
    EXPECT_NE(error_of("[sync]\nkeep_idempotency_s = 1").find("keep_idempotency_s"), std::string::npos);
    EXPECT_NE(error_of("[rollout]\nmax_crm_connections_per_team = 0").find("max_crm_connections_per_team"),
              std::string::npos);
}

TEST(Config, RolloutAllowedBaseUrlsAreNormalizedAtLoad) {
    EXPECT_TRUE(load_config("", {}).rollout.allowed_base_urls.empty());   // default: Rollout's own hosts only
    ConfigFile file(R"([rollout]
allowed_base_urls = ["HTTPS://Rollout.Example.COM", "http://127.0.0.1:9090/", "http://[::1]:8443", "https://a.example:8443"]
)");
    auto c = load_config(file.path(), {});
    EXPECT_EQ(c.rollout.allowed_base_urls,
              (std::vector<std::string>{"https://rollout.example.com:443", "http://127.0.0.1:9090", "http://[::1]:8443",
                                        "https://a.example:8443"}));
    auto e = load_config("", {"ROLLOUT_MCP_ROLLOUT_ALLOWED_BASE_URLS=http://localhost:9090, https://x.example"});
    EXPECT_EQ(e.rollout.allowed_base_urls,
              (std::vector<std::string>{"http://localhost:9090", "https://x.example:443"}));
}

TEST(Config, RolloutAllowedBaseUrlsRefuseWhatIsNotAnOrigin) {
    for (const char* entry : {"https://x.example/api", "https://x.example?", "https://x.example/#f",
                              "https://user@x.example", "https://u:p@x.example", "ftp://x.example", "x.example",
                              "https://", "https://x.example:0", "https://x.example:65536", "https://x.example:",
                              "http://10.0.0.1:80", "http://rollout.example.com", "http://127.0.0.1.nip.io:9090",
                              "https://x .example", "https://[::1", "https://x..example"}) {
        auto what = error_of(std::string("[rollout]\nallowed_base_urls = [\"") + entry + "\"]");
        EXPECT_NE(what.find("rollout.allowed_base_urls"), std::string::npos) << entry << " -> " << what;
    }
}

TEST(Config, RolloutHostShareAndQueue) {
    auto d = load_config("", {});
    EXPECT_DOUBLE_EQ(d.rollout.per_team_host_share, 0.25);
    EXPECT_EQ(d.rollout.max_queued_per_host, 256u);
    auto c = load_config("", {"ROLLOUT_MCP_ROLLOUT_PER_TEAM_HOST_SHARE=0.5", "ROLLOUT_MCP_ROLLOUT_MAX_QUEUED_PER_HOST=10"});
    EXPECT_DOUBLE_EQ(c.rollout.per_team_host_share, 0.5);
    EXPECT_EQ(c.rollout.max_queued_per_host, 10u);
    ConfigFile one("[rollout]\nper_team_host_share = 1\n");   // an integer is a number too
    EXPECT_DOUBLE_EQ(load_config(one.path(), {}).rollout.per_team_host_share, 1.0);
    ConfigFile frac("[rollout]\nper_team_host_share = 0.01\n");
    EXPECT_DOUBLE_EQ(load_config(frac.path(), {}).rollout.per_team_host_share, 0.01);
    for (const char* text : {"[rollout]\nper_team_host_share = 0.009", "[rollout]\nper_team_host_share = 1.5",
                             "[rollout]\nper_team_host_share = -0.5", "[rollout]\nper_team_host_share = nan",
                             "[rollout]\nmax_queued_per_host = 0", "[rollout]\nmax_queued_per_host = 100001"}) {
        auto what = error_of(text);
        EXPECT_NE(what.find("must be between"), std::string::npos) << text << " -> " << what;
    }
    EXPECT_NE(error_of("[rollout]\nper_team_host_share = \"0.5\"").find("must be a number"), std::string::npos);
    for (const char* entry : {"ROLLOUT_MCP_ROLLOUT_PER_TEAM_HOST_SHARE=half", "ROLLOUT_MCP_ROLLOUT_PER_TEAM_HOST_SHARE=",
                              "ROLLOUT_MCP_ROLLOUT_PER_TEAM_HOST_SHARE=2"}) {
        auto what = env_error_of({entry});
        EXPECT_NE(what.find("environment ROLLOUT_MCP_ROLLOUT_PER_TEAM_HOST_SHARE"), std::string::npos) << entry << " -> " << what;
    }
}

// config.example.toml documents every key: it loads, and each key of the table appears in it.
TEST(Config, ExampleFileLoadsAndDocumentsEverySection) {
    const std::string path = std::string(ROLLOUT_MCP_SOURCE_DIR) + "/config.example.toml";
    EXPECT_NO_THROW(load_config(path, {}));
    std::ifstream in(path);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    for (const char* key : {"[sync]", "wait_ms", "max_attempts", "max_age_s", "backoff_base_ms", "backoff_max_ms",
                            "max_in_flight", "per_team_in_flight", "per_crm_in_flight", "lease_ms", "poll_ms",
                            "keep_succeeded_s", "keep_failed_s", "keep_idempotency_s", "max_queued_per_team",
                            "max_crm_connections_per_team", "[alerts]", "webhook_url", "webhook_secret_file",
                            "webhook_max_attempts", "\nallowed_base_urls = []", "\nper_team_host_share = 0.25",
                            "\nmax_queued_per_host = 256"})
        EXPECT_NE(text.find(key), std::string::npos) << key;
}

// The one predicate (base/loopback.hpp) serves the bind check, the master-key rule and the outbound rule.
TEST(Config, LoopbackAddresses) {
    for (const char* h : {"127.0.0.1", "127.10.0.1", "::1", "[::1]", "localhost", "LocalHost", "localhost."})
        EXPECT_TRUE(is_loopback_host(h)) << h;
    for (const char* h : {"0.0.0.0", "10.0.0.1", "::", "", "localhost.evil.com", "128.0.0.1", "127.1", "[127.0.0.1]",
                          "::ffff:127.0.0.1", "[::1", "::1]"})
        EXPECT_FALSE(is_loopback_host(h)) << h;
}

// A name that merely starts like a loopback literal is a name: it could resolve anywhere.
TEST(Config, LoopbackRejectsHostNamesThatStartWith127) {
    EXPECT_FALSE(is_loopback_host("127.evil.com"));
    EXPECT_FALSE(is_loopback_host("127.0.0.1.nip.io"));
}

}  // namespace
}  // namespace rollout_mcp
