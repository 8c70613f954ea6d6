// Test support for Rollout's webhooks in: the real HttpServer with the real RolloutHookReceiver on a storage
// executor, wired as `serve` wires them ([server] public_url set), on its own io_context with two threads.
#pragma once

#include "server/app/config.hpp"
#include "server/http/http_server.hpp"
#include "server/mcp/auth.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/session_settings.hpp"
#include "server/mcp/tool_registry.hpp"
#include "server/sync/rollout_hooks.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <thread>

namespace rollout_mcp::sync_test {

inline constexpr const char* kHookPrefix = "/rmcp";

class HookServer {
public:
    // `tweak` adjusts the config (public_url is "http://127.0.0.1:9/rmcp" unless changed).
    // `stored`: the receiver's on_stored callback (wakes a HookProcessor, as `serve` wires it).
    explicit HookServer(StorageExecutor& storage, HookLimits limits = {},
                        const std::function<void(Config&)>& tweak = {}, std::function<void()> stored = {})
        : receiver_(storage, limits) {
        receiver_.on_stored(std::move(stored));
        config_.server.port = 0;
        config_.server.public_url = std::string("http://127.0.0.1:9") + kHookPrefix;
        config_.auth.mode = "none";
        if (tweak) tweak(config_);
        sessions_ = mcp::make_in_memory_session_store(session_store_settings(config_));
        auth_ = make_single_tenant_auth("default");
        endpoint_ = std::make_unique<McpEndpoint>(config_, tools_, *sessions_, *auth_);
        server_ = std::make_unique<HttpServer>(io_.get_executor(), config_, *endpoint_, *sessions_,
                                               [] { return boost::json::object{{"ready", true}}; });
        server_->set_hook_receiver(receiver_);
        port_ = server_->listen();
        server_->start();
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
    }
    ~HookServer() {
        boost::asio::co_spawn(io_, server_->shutdown(), boost::asio::detached);
        for (auto& t : threads_) t.join();
    }
    HookServer(const HookServer&) = delete;
    HookServer& operator=(const HookServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url(const std::string& route) const {
        return "http://127.0.0.1:" + std::to_string(port_) + kHookPrefix + "/hooks/rollout/" + route;
    }

private:
    Config config_;
    boost::asio::io_context io_{2};
    ToolRegistry tools_;
    RolloutHookReceiver receiver_;
    std::unique_ptr<mcp::SessionStore> sessions_;
    std::unique_ptr<Authenticator> auth_;
    std::unique_ptr<McpEndpoint> endpoint_;
    std::unique_ptr<HttpServer> server_;
    std::uint16_t port_ = 0;
    std::vector<std::thread> threads_;
};

}  // namespace rollout_mcp::sync_test
