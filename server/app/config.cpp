// Loads the TOML config and ROLLOUT_MCP_<SECTION>_<KEY> overrides through one table of keys.
#include "server/app/config.hpp"
#include "server/app/config_keys.hpp"

#include "base/loopback.hpp"

#include "server/app/origin.hpp"
#include "server/app/postgresql_url.hpp"
#include "server/app/public_url.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <set>
#include <variant>

#include <arpa/inet.h>
#include <netinet/in.h>

extern char** environ;

namespace rollout_mcp {
namespace {

using config_keys::KeySpec;
using config_keys::Target;

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& why) {
    throw ConfigError(where + ": " + key + ": " + why);
}

std::string format_double(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc{} ? std::string(buf, end) : std::string("?");
}

std::uint64_t check_range(const KeySpec& spec, std::int64_t v, const std::string& where, const std::string& key) {
    if (v < 0 || static_cast<std::uint64_t>(v) < spec.min || static_cast<std::uint64_t>(v) > spec.max)
        fail(where, key, "must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max) +
                             ", got " + std::to_string(v));
    return static_cast<std::uint64_t>(v);
}

void assign_integer(const KeySpec& spec, Config& cfg, std::int64_t v, const std::string& where,
                    const std::string& key) {
    auto u = check_range(spec, v, where, key);
    std::visit(
        [&](auto* p) {
            using T = std::remove_pointer_t<decltype(p)>;
            if constexpr (std::is_same_v<T, std::size_t> || std::is_same_v<T, unsigned> ||
                          std::is_same_v<T, std::uint16_t>)
                *p = static_cast<T>(u);
            else if constexpr (std::is_same_v<T, std::chrono::milliseconds> ||
                               std::is_same_v<T, std::chrono::seconds>)
                *p = T{static_cast<typename T::rep>(u)};
            else
                fail(where, key, "must not be an integer");
        },
        spec.target(cfg));
}

void assign_double(const KeySpec& spec, Config& cfg, double v, const std::string& where, const std::string& key) {
    // Written as !(in range) so NaN is refused too.
    if (!(v >= spec.fmin && v <= spec.fmax))
        fail(where, key, "must be between " + format_double(spec.fmin) + " and " + format_double(spec.fmax) +
                             ", got " + format_double(v));
    *std::get<double*>(spec.target(cfg)) = v;
}

void assign_backend(StorageBackend* p, const std::string& value, const std::string& where, const std::string& key) {
    for (auto b : {StorageBackend::sqlite, StorageBackend::postgresql})
        if (value == storage_backend_name(b)) {
            *p = b;
            return;
        }
    // A mistyped word is shown; anything else may be a connection string put in the wrong key.
    const bool word =
        std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
    fail(where, key, "must be \"sqlite\" or \"postgresql\"" + (word ? ", got \"" + value + "\"" : std::string()));
}

void apply_toml(const KeySpec& spec, Config& cfg, const toml::node& node, const std::string& where,
                const std::string& key) {
    std::visit(
        [&](auto* p) {
            using T = std::remove_pointer_t<decltype(p)>;
            if constexpr (std::is_same_v<T, std::string>) {
                if (!node.is_string()) fail(where, key, "must be a string");
                *p = *node.value<std::string>();
            } else if constexpr (std::is_same_v<T, StorageBackend>) {
                if (!node.is_string()) fail(where, key, "must be a string");
                assign_backend(p, *node.value<std::string>(), where, key);
            } else if constexpr (std::is_same_v<T, bool>) {
                if (!node.is_boolean()) fail(where, key, "must be true or false");
                *p = *node.value<bool>();
            } else if constexpr (std::is_same_v<T, double>) {
                // An integer is accepted where a fraction is expected (1 for 1.0).
                if (!node.is_floating_point() && !node.is_integer()) fail(where, key, "must be a number");
                assign_double(spec, cfg, *node.value<double>(), where, key);
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                const auto* arr = node.as_array();
                if (!arr) fail(where, key, "must be an array of strings");
                p->clear();
                for (const auto& item : *arr) {
                    if (!item.is_string()) fail(where, key, "must be an array of strings");
                    p->push_back(*item.value<std::string>());
                }
            } else {
                if (!node.is_integer()) fail(where, key, "must be an integer");
                assign_integer(spec, cfg, *node.value<std::int64_t>(), where, key);
            }
        },
        spec.target(cfg));
}

std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        auto comma = s.find(',');
        auto item = s.substr(0, comma);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

void apply_env(const KeySpec& spec, Config& cfg, const std::string& value, const std::string& var) {
    const std::string where = "environment " + var;
    std::visit(
        [&](auto* p) {
            using T = std::remove_pointer_t<decltype(p)>;
            if constexpr (std::is_same_v<T, std::string>) {
                *p = value;
            } else if constexpr (std::is_same_v<T, StorageBackend>) {
                assign_backend(p, value, where, spec.key);
            } else if constexpr (std::is_same_v<T, bool>) {
                if (value == "true" || value == "1") *p = true;
                else if (value == "false" || value == "0") *p = false;
                else fail(where, spec.key, "must be true or false, got \"" + value + "\"");
            } else if constexpr (std::is_same_v<T, double>) {
                double v = 0;
                auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
                if (ec != std::errc{} || end != value.data() + value.size() || value.empty())
                    fail(where, spec.key, "must be a number, got \"" + value + "\"");
                assign_double(spec, cfg, v, where, spec.key);
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                *p = split_list(value);
            } else {
                std::int64_t v = 0;
                auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
                if (ec != std::errc{} || end != value.data() + value.size())
                    fail(where, spec.key, "must be an integer, got \"" + value + "\"");
                assign_integer(spec, cfg, v, where, spec.key);
            }
        },
        spec.target(cfg));
}

std::string env_name(const KeySpec& spec) {
    std::string name = std::string("ROLLOUT_MCP_") + spec.section + "_" + spec.key;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    return name;
}

void load_file(Config& cfg, const std::string& path) {
    toml::table doc;
    try {
        doc = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        throw ConfigError(path + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
                          std::string(e.description()));
    }
    std::set<std::string> known_sections;
    for (const auto& spec : config_keys::all()) known_sections.insert(spec.section);
    for (const auto& [section_key, section_node] : doc) {
        const std::string section(section_key.str());
        if (!known_sections.count(section)) fail(path, section, "unknown section");
        const auto* table = section_node.as_table();
        if (!table) fail(path, section, "must be a table ([" + section + "])");
        for (const auto& [key, node] : *table) {
            const std::string name(key.str());
            const auto keys = config_keys::all();
            const auto spec = std::find_if(keys.begin(), keys.end(), [&](const KeySpec& k) {
                return section == k.section && name == k.key;
            });
            if (spec == keys.end()) fail(path, section + "." + name, "unknown key");
            apply_toml(*spec, cfg, node, path, section + "." + name);
        }
    }
}

bool origin_or_host_ok(const std::string& s) {
    return !s.empty() && std::none_of(s.begin(), s.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; });
}

void validate(Config& cfg) {
    const std::string where = "config";
    if (cfg.server.mcp_path.empty() || cfg.server.mcp_path.front() != '/')
        fail(where, "server.mcp_path", "must start with '/'");
    if (cfg.server.bind.empty()) fail(where, "server.bind", "must not be empty");
    for (const auto& h : cfg.server.allowed_hosts)
        if (!origin_or_host_ok(h)) fail(where, "server.allowed_hosts", "invalid entry \"" + h + "\"");
    for (const auto& o : cfg.server.allowed_origins)
        if (!origin_or_host_ok(o)) fail(where, "server.allowed_origins", "invalid entry \"" + o + "\"");
    if (cfg.auth.mode != "api_key" && cfg.auth.mode != "none")
        fail(where, "auth.mode", "must be \"api_key\" or \"none\", got \"" + cfg.auth.mode + "\"");
    if (cfg.server.tls_cert_file.empty() != cfg.server.tls_key_file.empty())
        fail(where, cfg.server.tls_cert_file.empty() ? "server.tls_cert_file" : "server.tls_key_file",
             "must be set together with server." +
                 std::string(cfg.server.tls_cert_file.empty() ? "tls_key_file" : "tls_cert_file"));
    if (cfg.server.tls_min_version != "1.2" && cfg.server.tls_min_version != "1.3")
        fail(where, "server.tls_min_version", "must be \"1.2\" or \"1.3\", got \"" + cfg.server.tls_min_version + "\"");
    if (cfg.auth.mode == "none" && !is_loopback_host(cfg.server.bind))
        fail(where, "auth.mode", "\"none\" is only allowed when server.bind is a loopback address, not \"" +
                                     cfg.server.bind + "\"");
    // Off loopback every team's API key crosses the network: it must travel inside TLS, ours or a proxy's.
    if (!is_loopback_host(cfg.server.bind) && !cfg.server.tls() && !cfg.server.behind_tls_proxy)
        fail(where, "server.bind", "\"" + cfg.server.bind +
                                       "\" is not a loopback address: set server.tls_cert_file and server.tls_key_file, "
                                       "or server.behind_tls_proxy = true when a reverse proxy terminates TLS");
    if (!cfg.server.public_url.empty())
        if (auto url = parse_public_url(cfg.server.public_url); !url)
            fail(where, "server.public_url", url.error().message + " (value not shown)");
    static const char* levels[] = {"debug", "info", "warning", "error"};
    if (std::find(std::begin(levels), std::end(levels), cfg.log.level) == std::end(levels))
        fail(where, "log.level", "must be debug, info, warning or error, got \"" + cfg.log.level + "\"");
    if (cfg.mcp.requests_per_second_per_team != 0 && cfg.mcp.requests_per_second_per_team < 0.001)
        fail(where, "mcp.requests_per_second_per_team", "must be 0 (no pacing) or at least 0.001");
    if (cfg.rollout.requests_per_second_per_team != 0 && cfg.rollout.requests_per_second_per_team < 0.001)
        fail(where, "rollout.requests_per_second_per_team", "must be 0 (no gate) or at least 0.001");
    if (cfg.mcp.max_streams_per_session <= cfg.mcp.max_pending_requests)
        fail(where, "mcp.max_streams_per_session", "must be greater than mcp.max_pending_requests (" +
                                                       std::to_string(cfg.mcp.max_pending_requests) + ")");
    if (cfg.sync.backoff_max < cfg.sync.backoff_base)
        fail(where, "sync.backoff_max_ms", "must not be less than sync.backoff_base_ms");
    if (cfg.sync.lease <= cfg.rollout.request_timeout)
        fail(where, "sync.lease_ms", "must be longer than rollout.request_timeout_ms (a claim outlives one call)");
    if (!cfg.alerts.webhook_url.empty() && cfg.alerts.webhook_secret_file.empty())
        fail(where, "alerts.webhook_secret_file", "is required with alerts.webhook_url (alerts are signed)");
    for (auto [key, list] : {std::pair{"rollout.allowed_base_urls", &cfg.rollout.allowed_base_urls},
                             std::pair{"events.allowed_callback_origins", &cfg.events.allowed_callback_origins}})
        for (auto& entry : *list) {
            auto origin = normalize_origin(entry);
            if (!origin)
                fail(where, key, "\"" + entry + "\" is not an origin (scheme://host[:port], no path, query, fragment or userinfo)");
            if (!origin_transport_allowed(*origin))
                fail(where, key, "\"" + entry + "\": must be https (plain http only for a loopback host)");
            entry = *origin;
        }
    if (cfg.events.backoff_max < cfg.events.backoff_base)
        fail(where, "events.backoff_max_ms", "must not be less than events.backoff_base_ms");
    if (cfg.storage.data_dir.empty()) fail(where, "storage.data_dir", "must not be empty");
    // The URL is never quoted here: it may hold a password (from the environment).
    if (cfg.storage.backend == StorageBackend::postgresql && cfg.storage.postgresql_url.empty())
        fail(where, "storage.postgresql_url",
             "is required with storage.backend = \"postgresql\" (or set ROLLOUT_MCP_STORAGE_POSTGRESQL_URL)");
    if (!cfg.storage.postgresql_url.empty() && !is_postgresql_uri(cfg.storage.postgresql_url))
        fail(where, "storage.postgresql_url",
             "must be a libpq connection URI starting with postgresql:// or postgres:// (value not shown)");
    if (cfg.storage.database.empty()) cfg.storage.database = cfg.storage.data_dir + "/rollout-mcp.db";
}

// A password in the file would sit in a config that is copied, committed and read by many; the
// environment override may carry one (a deployment's secret store sets it).
void refuse_password_in_file(const Config& cfg, const std::string& path) {
    if (postgresql_conninfo_has_password(cfg.storage.postgresql_url))
        fail(path, "storage.postgresql_url",
             "must not hold a password (user:password@ or password=) in the config file: use a password "
             "file (PGPASSFILE, ~/.pgpass) or PGPASSWORD, or give the whole URL in the environment as "
             "ROLLOUT_MCP_STORAGE_POSTGRESQL_URL (value not shown)");
}

}  // namespace

const char* storage_backend_name(StorageBackend backend) {
    return backend == StorageBackend::postgresql ? "postgresql" : "sqlite";
}

Config load_config(const std::string& path, const std::vector<std::string>& environment) {
    Config cfg;
    if (!path.empty()) {
        load_file(cfg, path);
        refuse_password_in_file(cfg, path);
    }
    for (const auto& entry : environment) {
        auto eq = entry.find('=');
        if (eq == std::string::npos || entry.rfind("ROLLOUT_MCP_", 0) != 0) continue;
        const std::string name = entry.substr(0, eq);
        for (const auto& spec : config_keys::all())
            if (env_name(spec) == name) apply_env(spec, cfg, entry.substr(eq + 1), name);
    }
    validate(cfg);
    return cfg;
}

Config load_config(const std::string& path) {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    return load_config(path, env);
}

}  // namespace rollout_mcp
