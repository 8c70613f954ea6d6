// McpEndpoint without sockets: media-type matching, Host/Origin allow-lists, and a few requests driven
// straight through handle() on an io_context.
#include "support/endpoint_request.hpp"
#include "server/mcp/auth.hpp"
#include "server/mcp/mcp_endpoint.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp {
namespace {

TEST(AcceptsMediaType, MatchesExactWildcardAndParameters) {
    EXPECT_TRUE(accepts_media_type("application/json", "application/json"));
    EXPECT_TRUE(accepts_media_type("text/html, application/json;q=0.5", "application/json"));
    EXPECT_TRUE(accepts_media_type(" text/event-stream ; q=1 ", "text/event-stream"));
    EXPECT_TRUE(accepts_media_type("*/*", "text/event-stream"));
    EXPECT_TRUE(accepts_media_type("application/*", "application/json"));
    EXPECT_TRUE(accepts_media_type("Application/JSON", "application/json"));
    EXPECT_FALSE(accepts_media_type("", "application/json"));
    EXPECT_FALSE(accepts_media_type("text/*", "application/json"));
    EXPECT_FALSE(accepts_media_type("application/jsonx", "application/json"));
    EXPECT_FALSE(accepts_media_type("application/json-seq", "application/json"));
    EXPECT_FALSE(accepts_media_type("app/*", "application/json"));
}

class EndpointRules : public ::testing::Test {
protected:
    EndpointRules() : sessions_(mcp::make_in_memory_session_store({})), auth_(make_single_tenant_auth("default")) {
        config_.server.allowed_origins = {"https://app.example.com"};
        config_.server.allowed_hosts = {"localhost", "127.0.0.1", "[::1]", "mcp.example.com"};
        endpoint_ = std::make_unique<McpEndpoint>(config_, tools_, *sessions_, *auth_);
    }
    HttpReply handle(HttpRequest request) { return test::handle_now(ioc_, *endpoint_, request); }
    HttpRequest post(std::string_view body) { return test::mcp_post(body); }

    Config config_;
    ToolRegistry tools_;
    std::unique_ptr<mcp::SessionStore> sessions_;
    std::unique_ptr<Authenticator> auth_;
    std::unique_ptr<McpEndpoint> endpoint_;
    boost::asio::io_context ioc_;
};

TEST_F(EndpointRules, HostAllowList) {
    for (const char* ok : {"localhost", "localhost:1", "LocalHost:8080", "127.0.0.1:80", "[::1]", "[::1]:8080",
                           "mcp.example.com", "mcp.example.com:443"})
        EXPECT_TRUE(endpoint_->host_allowed(ok)) << ok;
    for (const char* bad : {"", "evil.example.com", "localhost:", "localhost:8x", "[::1", "[::1]x", "[::1]:",
                            "127.0.0.1.evil.com", "mcp.example.com.evil", "localhost:80:80"})
        EXPECT_FALSE(endpoint_->host_allowed(bad)) << bad;
}

TEST_F(EndpointRules, OriginAllowList) {
    for (const char* ok : {"http://localhost", "http://localhost:3000", "https://127.0.0.1:8443", "http://[::1]:1",
                           "https://app.example.com", "HTTPS://APP.EXAMPLE.COM"})
        EXPECT_TRUE(endpoint_->origin_allowed(ok)) << ok;
    for (const char* bad : {"", "null", "http://evil.example.com", "https://app.example.com:444", "ftp://localhost",
                            "http://localhost.evil.com", "http://127.0.0.1.nip.io", "localhost", "http://localhost:x"})
        EXPECT_FALSE(endpoint_->origin_allowed(bad)) << bad;
}

TEST_F(EndpointRules, WildcardOriginAllowsAny) {
    config_.server.allowed_origins = {"*"};
    EXPECT_TRUE(endpoint_->origin_allowed("https://anything.example"));
}

TEST_F(EndpointRules, InitializeThenPingWithoutSockets) {
    auto r = handle(post(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})"));
    ASSERT_EQ(r.status, 200u);
    std::string session;
    for (const auto& [name, value] : r.headers)
        if (name == "Mcp-Session-Id") session = value;
    ASSERT_EQ(session.size(), 32u);
    auto ping = post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})");
    ping.session_id = session;
    r = handle(ping);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, R"({"jsonrpc":"2.0","id":2,"result":{}})");
    EXPECT_FALSE(r.sse);
}

TEST_F(EndpointRules, HostIsCheckedBeforeAnythingElse) {
    auto request = post("not json at all");
    request.host = "evil.example.com";
    request.accept = "";
    EXPECT_EQ(handle(request).status, 403u);
}

TEST_F(EndpointRules, ShuttingDownRefusesWith503AndClose) {
    endpoint_->begin_shutdown();
    auto r = handle(post(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})"));
    EXPECT_EQ(r.status, 503u);
    EXPECT_TRUE(r.close_connection);
}

TEST(TransportError, HasNoIdAndTheStatus) {
    auto r = transport_error(404, -32001, "Session not found");
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(r.content_type, "application/json");
    auto v = boost::json::parse(r.body).as_object();
    EXPECT_FALSE(v.contains("id"));
    EXPECT_EQ(v.at("error").at("code"), -32001);
}

}  // namespace
}  // namespace rollout_mcp
