// Loopback integration test support: the real HttpServer in-process on an ephemeral port (TestServer), and
// a GoogleTest fixture that checks GET /healthz still answers after every test. The client is support/http_client.hpp.
#pragma once

#include "server/mcp/sessionless_dispatch.hpp"
#include "server/app/config.hpp"
#include "support/wait_for.hpp"
#include "support/http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace rollout_mcp {
class ToolRegistry;
class McpEndpoint;
class HttpServer;
class TlsCertificates;
class Authenticator;
namespace mcp {
class SessionStore;
}
}  // namespace rollout_mcp

namespace rollout_mcp::test {

// Flags of the test-only `test_slow` tool: {"ms": N} sleeps N ms (default 5000) honouring cancellation.
struct SlowToolFlags {
    std::atomic<int> started{0};
    std::atomic<int> cancelled{0};
    std::atomic<int> completed{0};
};

class TestServer {
public:
    explicit TestServer(const std::function<void(Config&)>& tweak = {});
    ~TestServer();
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    std::uint16_t port() const { return port_; }
    const Config& config() const { return config_; }
    McpEndpoint& endpoint() { return *endpoint_; }
    mcp::SessionStore& sessions() { return *sessions_; }
    ToolRegistry& tools() { return *tools_; }
    SlowToolFlags& slow() { return *slow_; }
    TlsCertificates* tls() { return tls_.get(); }      // set when the config names a certificate

    void stop();                                             // starts a graceful shutdown
    // 0 once the io_context has run dry (the shutdown ended every coroutine); nullopt on timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    bool running() const { return !stopped_; }

private:
    Config config_;
    boost::asio::io_context ioc_{2};   // owned here, as main owns it; destroyed after everything made on it
    std::shared_ptr<SlowToolFlags> slow_;
    mcp::ListenHub listen_;
    mcp::TaskRouter task_router_;
    mcp::RequestStateCodec request_state_{std::string(32, 'k'), std::chrono::minutes(10)};
    SessionlessServices sessionless_{&listen_, &task_router_, &request_state_};
    std::unique_ptr<ToolRegistry> tools_;
    std::unique_ptr<mcp::SessionStore> sessions_;
    std::unique_ptr<Authenticator> auth_;
    std::unique_ptr<McpEndpoint> endpoint_;
    std::shared_ptr<TlsCertificates> tls_;
    std::unique_ptr<HttpServer> server_;
    std::uint16_t port_ = 0;
    std::future<int> exit_;
    std::thread thread_;
    bool stopped_ = false;
};

class HttpTest : public ::testing::Test {
protected:
    void start(const std::function<void(Config&)>& tweak = {});
    void TearDown() override;
    TestServer& server() { return *server_; }
    std::uint16_t port() const { return server_->port(); }

    Headers base_headers() const;            // Host, Accept (JSON + SSE), Content-Type
    // POST /mcp on a new connection with the base headers, the session and version headers, and `extra`.
    HttpResponse post(const std::string& body, const std::string& session = {}, const Headers& extra = {},
                      const std::string& version = {});
    // Same, on an existing connection (keep-alive).
    HttpResponse post_on(Client& c, const std::string& body, const std::string& session = {},
                         const Headers& extra = {}, const std::string& version = {});
    HttpResponse send_raw(const std::string& wire, std::chrono::milliseconds timeout = 5s);
    virtual int healthz();   // TearDown's check that the server still serves
    // initialize; returns the session id ("" + a test failure when it does not succeed).
    std::string initialize(const std::string& version = "2025-11-25");
    // POST a request and return its JSON-RPC reply (JSON body or the last SSE message event).
    boost::json::value call(const std::string& session, const std::string& body, const std::string& version = {});

    std::unique_ptr<TestServer> server_;
};

}  // namespace rollout_mcp::test
