// Loopback: initialize and version negotiation, session routing (400/404), DELETE, re-initialize,
// MCP-Protocol-Version, notifications and responses (202).
#include "test_server.hpp"

#include "server/mcp/session.hpp"

#include <boost/json.hpp>

namespace rollout_mcp::test {
namespace {
namespace json = boost::json;

class Lifecycle : public HttpTest {
protected:
    void SetUp() override { start(); }

    HttpResponse initialize_raw(const json::object& params, const Headers& extra = {}) {
        return post(rpc_request(1, "initialize", params), {}, extra);
    }
};

json::object init_params(std::string_view version) {
    return {{"protocolVersion", version},
            {"capabilities", json::object{}},
            {"clientInfo", json::object{{"name", "gtest"}, {"version", "1"}}}};
}

TEST_F(Lifecycle, InitializeReturnsAVisibleAsciiSessionId) {
    auto r = initialize_raw(init_params("2025-11-25"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    const auto id = r.header("mcp-session-id");
    ASSERT_EQ(id.size(), 32u) << id;
    for (char c : id) EXPECT_TRUE(c >= 0x21 && c <= 0x7e) << int(c);
    auto v = r.json().as_object();
    EXPECT_EQ(v.at("id"), 1);
    const auto& result = v.at("result").as_object();
    EXPECT_EQ(result.at("protocolVersion"), "2025-11-25");
    EXPECT_TRUE(result.at("capabilities").as_object().contains("tools"));
    EXPECT_TRUE(result.at("capabilities").as_object().contains("logging"));
    EXPECT_EQ(result.at("serverInfo").at("name"), "rollout-mcp");
    EXPECT_NE(initialize(), id) << "every initialize gets a fresh id";
}

TEST_F(Lifecycle, NegotiatesEachSupportedVersion) {
    for (const char* version : {"2025-11-25", "2025-06-18", "2025-03-26"}) {
        auto r = initialize_raw(init_params(version));
        ASSERT_EQ(r.status, 200) << version;
        auto result = r.json().at("result").as_object();
        EXPECT_EQ(result.at("protocolVersion"), version);
        // serverInfo.title exists from 2025-06-18 on.
        EXPECT_EQ(result.at("serverInfo").as_object().contains("title"), std::string(version) != "2025-03-26")
            << version;
    }
}

TEST_F(Lifecycle, UnknownVersionGetsTheLatest) {
    for (const char* version : {"2024-11-05", "1999-01-01", "garbage"}) {
        auto r = initialize_raw(init_params(version));
        ASSERT_EQ(r.status, 200) << version;
        EXPECT_EQ(r.json().at("result").at("protocolVersion"), "2025-11-25") << version;
        EXPECT_FALSE(r.header("mcp-session-id").empty());
    }
}

TEST_F(Lifecycle, MissingProtocolVersionIsInvalidParams) {
    auto r = initialize_raw({{"capabilities", json::object{}}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.json().at("error").at("code"), -32602);
    EXPECT_EQ(r.json().at("id"), 1);
    EXPECT_FALSE(r.has_header("mcp-session-id"));
    r = initialize_raw({{"protocolVersion", 20251125}});
    EXPECT_EQ(r.json().at("error").at("code"), -32602);
    r = post(R"({"jsonrpc":"2.0","id":2,"method":"initialize"})");
    EXPECT_EQ(r.json().at("error").at("code"), -32602);
}

TEST_F(Lifecycle, InitializeIgnoresTheVersionHeader) {
    auto r = initialize_raw(init_params("2025-06-18"), {{"MCP-Protocol-Version", "2025-11-25"}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.json().at("result").at("protocolVersion"), "2025-06-18");
}

TEST_F(Lifecycle, NotificationIsAcceptedWith202AndEmptyBody) {
    auto session = initialize();
    auto r = post(rpc_notification("notifications/initialized"), session);
    EXPECT_EQ(r.status, 202);
    EXPECT_TRUE(r.body.empty()) << r.body;
    r = post(rpc_notification("notifications/unknown_thing", {{"x", 1}}), session);
    EXPECT_EQ(r.status, 202) << "unknown notifications are ignored";
}

TEST_F(Lifecycle, ResponseMessageIsAcceptedWith202) {
    auto session = initialize();
    auto r = post(R"({"jsonrpc":"2.0","id":5,"result":{}})", session);
    EXPECT_EQ(r.status, 202);
    EXPECT_TRUE(r.body.empty());
    r = post(R"({"jsonrpc":"2.0","id":"s-6","error":{"code":-1,"message":"no"}})", session);
    EXPECT_EQ(r.status, 202);
    r = post(R"({"jsonrpc":"2.0","error":{"code":-32700,"message":"unreadable"}})", session);
    EXPECT_EQ(r.status, 202) << "an error about an unreadable request has no id: " << r.body;
}

TEST_F(Lifecycle, RequestWithoutSessionIs400) {
    auto r = post(rpc_request(1, "ping"));
    EXPECT_EQ(r.status, 400);
    auto body = r.json().as_object();
    EXPECT_FALSE(body.contains("id"));
    EXPECT_TRUE(body.contains("error"));
    r = post(rpc_notification("notifications/initialized"));
    EXPECT_EQ(r.status, 400);
}

TEST_F(Lifecycle, UnknownSessionIs404) {
    auto r = post(rpc_request(1, "ping"), std::string(32, 'a'));
    EXPECT_EQ(r.status, 404);
    EXPECT_FALSE(r.json().as_object().contains("id"));
    r = post(rpc_request(1, "ping"), "not-even-hex");
    EXPECT_EQ(r.status, 404);
}

TEST_F(Lifecycle, DeleteEndsTheSession) {
    auto session = initialize();
    EXPECT_EQ(post(rpc_request(1, "ping"), session).status, 200);
    Client c(port());
    auto h = base_headers();
    h.emplace_back("Mcp-Session-Id", session);
    c.send(http_request("DELETE", "/mcp", h));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(post(rpc_request(2, "ping"), session).status, 404);
    c.send(http_request("DELETE", "/mcp", h));
    EXPECT_EQ(c.read_response().status, 404);
    EXPECT_EQ(server().sessions().size(), 0u);
}

TEST_F(Lifecycle, DeleteWithoutSessionIs400) {
    EXPECT_EQ(send_raw(http_request("DELETE", "/mcp", base_headers())).status, 400);
}

TEST_F(Lifecycle, ReinitializeWithALiveSessionIs400) {
    auto session = initialize();
    auto r = post(rpc_request(1, "initialize", init_params("2025-11-25")), session);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json().at("error").at("code"), -32600);
    EXPECT_EQ(server().sessions().size(), 1u);
    EXPECT_EQ(post(rpc_request(2, "ping"), session).status, 200) << "the live session is untouched";
}

TEST_F(Lifecycle, InitializeWithAStaleSessionIdStartsANewSession) {
    auto r = post(rpc_request(1, "initialize", init_params("2025-11-25")), std::string(32, 'b'));
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.header("mcp-session-id"), std::string(32, 'b'));
}

TEST_F(Lifecycle, UnsupportedProtocolVersionHeaderIs400) {
    auto session = initialize();
    for (const char* bad : {"1999-01-01", "2025-11-25x", "2024-11-05"}) {
        auto r = post(rpc_request(1, "ping"), session, {}, bad);
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_NE(r.body.find("Unsupported protocol version"), std::string::npos) << r.body;
    }
}

TEST_F(Lifecycle, AnotherSupportedProtocolVersionHeaderIsAccepted) {
    auto session = initialize("2025-11-25");
    for (const char* ok : {"2025-11-25", "2025-06-18", "2025-03-26"}) {
        auto r = post(rpc_request(1, "ping"), session, {}, ok);
        EXPECT_EQ(r.status, 200) << ok;
    }
    // The session keeps its negotiated revision: batches stay refused on a 2025-11-25 session.
    auto r = post("[" + rpc_request(1, "ping") + "]", session, {}, "2025-03-26");
    EXPECT_EQ(r.status, 400);
}

TEST_F(Lifecycle, VersionHeaderIsCheckedOnGetAndDeleteToo) {
    auto session = initialize();
    auto h = base_headers();
    h.emplace_back("Mcp-Session-Id", session);
    h.emplace_back("MCP-Protocol-Version", "1999-01-01");
    EXPECT_EQ(send_raw(http_request("GET", "/mcp", h)).status, 400);
    EXPECT_EQ(send_raw(http_request("DELETE", "/mcp", h)).status, 400);
    EXPECT_EQ(server().sessions().size(), 1u);
}

TEST_F(Lifecycle, SessionIdHeaderNameIsCaseInsensitive) {
    auto session = initialize();
    auto h = base_headers();
    h.emplace_back("mcp-session-id", session);
    EXPECT_EQ(send_raw(http_request("POST", "/mcp", h, rpc_request(1, "ping"))).status, 200);
    h.back().first = "MCP-SESSION-ID";
    EXPECT_EQ(send_raw(http_request("POST", "/mcp", h, rpc_request(1, "ping"))).status, 200);
}

}  // namespace
}  // namespace rollout_mcp::test
