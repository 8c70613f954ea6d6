// Loopback: header rules a hostile client or proxy could exploit. Two Host or two Authorization headers are
// 400 and the connection closes (RFC 9112 section 3.2 for Host; a proxy and this server might each read a
// different Authorization). With auth.mode = "none", /mcp requests that carry proxy headers are refused
// (403) while health and metrics stay reachable; with API keys the same headers are fine.
#include "test_server.hpp"

#include "server/mcp/session.hpp"

#include <boost/json.hpp>

namespace rollout_mcp::test {
namespace {
using namespace std::chrono_literals;

class Headers_ : public HttpTest {
protected:
    // Sends `wire` on a kept-alive connection; expects one 400 and the server closing the connection.
    void expect_400_and_close(const std::string& wire, const std::string& reason) {
        Client c(port());
        ASSERT_TRUE(c.send(wire));
        auto r = c.read_response();
        EXPECT_EQ(r.status, 400) << r.error;
        EXPECT_NE(r.body.find(reason), std::string::npos) << r.body;
        EXPECT_TRUE(c.wait_closed(2s)) << "the connection stayed open after the 400";
    }
    std::string initialize_body() const { return rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"}}); }
};

TEST_F(Headers_, TwoHostHeadersAre400AndClose) {
    start();
    auto h = base_headers();   // has Host: 127.0.0.1:<port>
    h.emplace_back("Host", "evil.example");
    expect_400_and_close(http_request("POST", "/mcp", h, initialize_body()), "more than one Host header");
    auto same = base_headers();
    same.emplace_back("host", same.front().second);   // even the same value, in another case
    expect_400_and_close(http_request("POST", "/mcp", same, initialize_body()), "more than one Host header");
    // Also on the health path: the rule is about the message, not the endpoint.
    auto health = base_headers();
    health.emplace_back("Host", "localhost");
    expect_400_and_close(http_request("GET", "/healthz", health), "more than one Host header");
    EXPECT_EQ(server().sessions().size(), 0u);
}

TEST_F(Headers_, TwoAuthorizationHeadersAre400AndClose) {
    start();
    auto h = base_headers();
    h.emplace_back("Authorization", "Bearer rmcp_a");
    h.emplace_back("Authorization", "Bearer rmcp_b");
    expect_400_and_close(http_request("POST", "/mcp", h, initialize_body()), "more than one Authorization header");
    EXPECT_EQ(server().sessions().size(), 0u);
}

TEST_F(Headers_, OneHostAndOneAuthorizationAreFine) {
    start();
    auto r = post(initialize_body(), {}, {{"Authorization", "Bearer rmcp_a"}});
    EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(Headers_, AuthNoneRefusesProxiedMcpRequests) {
    start();   // TestServer runs auth.mode = "none"
    for (const char* name : {"X-Forwarded-For", "Forwarded", "X-Real-IP", "x-forwarded-for"}) {
        const std::string value = std::string(name) == "Forwarded" ? "for=203.0.113.7" : "203.0.113.7";
        auto r = post(initialize_body(), {}, {{name, value}});
        EXPECT_EQ(r.status, 403) << name;
        const auto body = r.json();
        ASSERT_TRUE(body.is_object()) << r.body;
        const std::string message(body.at("error").at("message").as_string());
        EXPECT_NE(message.find("auth.mode = \"none\" serves loopback clients only"), std::string::npos) << message;
        EXPECT_NE(message.find("came through a proxy"), std::string::npos) << message;
        EXPECT_NE(message.find(name == std::string("x-forwarded-for") ? "X-Forwarded-For" : name), std::string::npos)
            << message;
    }
    EXPECT_EQ(server().sessions().size(), 0u);
    // Health, readiness and metrics are not the MCP endpoint: unaffected.
    for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
        auto h = base_headers();
        h.emplace_back("X-Forwarded-For", "203.0.113.7");
        EXPECT_EQ(send_raw(http_request("GET", path, h)).status, 200) << path;
    }
}

TEST_F(Headers_, ApiKeyModeAcceptsProxyHeaders) {
    start([](Config& c) { c.auth.mode = "api_key"; });   // the test authenticator still lets every request in
    auto r = post(initialize_body(), {}, {{"X-Forwarded-For", "203.0.113.7"}, {"X-Real-IP", "203.0.113.7"}});
    EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace rollout_mcp::test
