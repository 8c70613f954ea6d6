// rollout-mcp: the command line. `serve` runs the MCP server; `check-config` validates a config file.
#include "auth.hpp"
#include "config.hpp"
#include "fixture_tools.hpp"
#include "http_server.hpp"
#include "log.hpp"
#include "mcp_endpoint.hpp"
#include "session.hpp"
#include "tool_registry.hpp"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

namespace rollout_mcp {
namespace {

mcp::SessionStoreSettings session_settings(const Config& config) {
    mcp::SessionStoreSettings s;
    s.max_sessions = config.mcp.max_sessions;
    s.idle_timeout = config.mcp.session_idle_timeout;
    s.stream_retention = config.mcp.stream_retention;
    s.limits.replay_buffer_bytes = config.mcp.replay_buffer_bytes;
    s.limits.replay_events_per_stream = config.mcp.replay_events_per_stream;
    s.limits.max_pending_requests = config.mcp.max_pending_requests;
    return s;
}

int serve(const Config& config, const std::string& port_file) {
    log::set_level(config.log.level);
    std::unique_ptr<Authenticator> auth;
    if (config.auth.mode == "none") {
        auth = make_no_auth();
        log::warning("auth.mode = \"none\": every request acts as the default team (loopback only)");
    } else {
        throw std::runtime_error("auth.mode = \"api_key\" needs the credential store, which this build does not "
                                 "have yet; set auth.mode = \"none\" on a loopback bind");
    }
    ToolRegistry tools;
    if (config.mcp.test_fixtures) {
        register_fixture_tools(tools);
        log::warning("test fixture tools are registered ([mcp] test_fixtures = true)");
    }
    auto sessions = mcp::make_in_memory_session_store(session_settings(config));
    McpEndpoint endpoint(config, tools, *sessions, *auth);
    HttpServer server(config, endpoint, *sessions, [] { return boost::json::object{{"ready", true}}; });
    const auto port = server.listen();
    if (!port_file.empty()) {
        std::ofstream out(port_file + ".tmp");
        out << port << "\n";
        out.close();
        std::rename((port_file + ".tmp").c_str(), port_file.c_str());
    }
    log::info("listening", {{"address", config.server.bind}, {"port", port}, {"mcp_path", config.server.mcp_path}});
    return server.run();
}

}  // namespace
}  // namespace rollout_mcp

int main(int argc, char** argv) {
    using namespace rollout_mcp;
    CLI::App app{"rollout-mcp: sync REanna Router tours and feedback into CRMs through Rollout, over MCP"};
    app.require_subcommand(1);
    std::string config_path;
    std::string port_file;
    auto* serve_cmd = app.add_subcommand("serve", "Run the MCP server");
    serve_cmd->add_option("-c,--config", config_path, "TOML config file (see config.example.toml)");
    serve_cmd->add_option("--port-file", port_file, "Write the bound port to this file once listening");
    auto* check_cmd = app.add_subcommand("check-config", "Validate a config file and exit");
    check_cmd->add_option("-c,--config", config_path, "TOML config file")->required();
    CLI11_PARSE(app, argc, argv);

    Config config;
    try {
        config = load_config(config_path);
    } catch (const ConfigError& e) {
        std::cerr << "rollout-mcp: configuration error: " << e.what() << "\n";
        return 2;
    }
    if (*check_cmd) {
        std::cout << "configuration OK: " << config_path << "\n";
        return 0;
    }
    try {
        return serve(config, port_file);
    } catch (const std::exception& e) {
        log::error("start-up failed", {{"error", e.what()}});
        return 1;
    }
}
