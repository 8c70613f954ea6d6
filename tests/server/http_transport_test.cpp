// Loopback: HTTP-level rules of the endpoint (406/415/400/405/403), JSON-RPC framing errors, 2025-03-26
// batches, and HTTP/1.0, Connection: close and keep-alive.
#include "test_server.hpp"

#include "server/mcp/session.hpp"

#include <boost/json.hpp>

namespace rollout_mcp::test {
namespace {
namespace json = boost::json;

class Transport : public HttpTest {
protected:
    void SetUp() override {
        start([](Config& c) { c.mcp.max_batch = 4; });
    }
    std::string port_text() const { return std::to_string(port()); }
};

TEST_F(Transport, PostAcceptMustListJsonAndEventStream) {
    auto session = initialize();
    for (const char* accept : {"application/json", "text/event-stream", "text/html", ""}) {
        Headers h = {{"Host", "127.0.0.1:" + port_text()}, {"Content-Type", "application/json"},
                     {"Mcp-Session-Id", session}};
        if (*accept) h.emplace_back("Accept", accept);
        auto r = send_raw(http_request("POST", "/mcp", h, rpc_request(1, "ping")));
        EXPECT_EQ(r.status, 406) << accept;
        EXPECT_FALSE(r.json().as_object().contains("id"));
    }
    for (const char* accept : {"*/*", "application/*, text/*", "application/json;q=0.9, text/event-stream;q=0.8",
                               "TEXT/EVENT-STREAM, APPLICATION/JSON"}) {
        Headers h = {{"Host", "127.0.0.1:" + port_text()}, {"Content-Type", "application/json"},
                     {"Mcp-Session-Id", session}, {"Accept", accept}};
        EXPECT_EQ(send_raw(http_request("POST", "/mcp", h, rpc_request(1, "ping"))).status, 200) << accept;
    }
}

TEST_F(Transport, GetAcceptMustListEventStream) {
    auto session = initialize();
    Headers h = {{"Host", "127.0.0.1:" + port_text()}, {"Accept", "application/json"}, {"Mcp-Session-Id", session}};
    EXPECT_EQ(send_raw(http_request("GET", "/mcp", h)).status, 406);
}

TEST_F(Transport, WrongContentTypeIs415) {
    auto session = initialize();
    for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "application/jsonx", ""}) {
        Headers h = {{"Host", "127.0.0.1:" + port_text()}, {"Accept", "application/json, text/event-stream"},
                     {"Mcp-Session-Id", session}};
        if (*type) h.emplace_back("Content-Type", type);
        EXPECT_EQ(send_raw(http_request("POST", "/mcp", h, rpc_request(1, "ping"))).status, 415) << type;
    }
    auto r = post(rpc_request(1, "ping"), session, {});
    EXPECT_EQ(r.status, 200);
    Headers h = {{"Host", "127.0.0.1:" + port_text()}, {"Accept", "application/json, text/event-stream"},
                 {"Mcp-Session-Id", session}, {"Content-Type", "Application/JSON; charset=utf-8"}};
    EXPECT_EQ(send_raw(http_request("POST", "/mcp", h, rpc_request(1, "ping"))).status, 200);
}

TEST_F(Transport, InvalidJsonIs400ParseErrorWithoutId) {
    auto session = initialize();
    for (const char* body : {"{", "{\"jsonrpc\":\"2.0\",\"id\":1,", "not json", ""}) {
        auto r = post(body, session);
        EXPECT_EQ(r.status, 400) << body;
        auto v = r.json().as_object();
        EXPECT_FALSE(v.contains("id")) << r.body;
        EXPECT_EQ(v.at("error").at("code"), -32700) << r.body;
    }
    // Also before any session exists.
    EXPECT_EQ(post("{oops").json().at("error").at("code"), -32700);
}

TEST_F(Transport, TooDeeplyNestedJsonIsAParseError) {
    auto session = initialize();
    std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":)" + std::string(200, '[') +
                       std::string(200, ']') + "}}";
    auto r = post(deep, session);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json().at("error").at("code"), -32700);
}

TEST_F(Transport, OverlongStringOrNumberIsAParseErrorNamingTheLimit) {
    auto session = initialize();
    const std::string long_string(1024 * 1024 + 1, 'x');
    auto r = post(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":")" + long_string + R"("}})", session);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json().at("error").at("code"), -32700);
    EXPECT_NE(r.body.find("longer than 1048576 bytes"), std::string::npos) << r.body.substr(0, 200);
    r = post(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":)" + std::string(65, '7') + "}}", session);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("a JSON number is longer than 64 characters"), std::string::npos) << r.body;
    // At the limits the request is served.
    r = post(R"({"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":)" + std::string(64, '7') + "}}", session);
    EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(Transport, NotJsonRpcIs400InvalidRequest) {
    auto session = initialize();
    for (const char* body : {R"({"foo":1})", "42", R"("ping")", R"({"jsonrpc":"1.0","id":1,"method":"ping"})",
                             R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[]})"}) {
        auto r = post(body, session);
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_EQ(r.json().at("error").at("code"), -32600) << body << " -> " << r.body;
    }
}

TEST_F(Transport, NotJsonRpcIsInvalidRequestEvenWithoutASession) {
    for (const char* body : {R"({"foo":1})", "7", R"({"jsonrpc":"2.0","id":1,"method":5})"}) {
        auto r = post(body);
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_EQ(r.json().at("error").at("code"), -32600) << body << " -> " << r.body;
    }
    auto r = post(R"({"foo":1})", std::string(32, 'd'));
    EXPECT_EQ(r.json().at("error").at("code"), -32600) << "checked before the session lookup";
}

TEST_F(Transport, UnknownMethodIs200WithMethodNotFound) {
    auto session = initialize();
    auto r = post(rpc_request("req-1", "resources/list"), session);
    ASSERT_EQ(r.status, 200);
    auto v = r.json().as_object();
    EXPECT_EQ(v.at("id"), "req-1");
    EXPECT_EQ(v.at("error").at("code"), -32601);
    EXPECT_FALSE(v.contains("result"));
}

TEST_F(Transport, OtherMethodsAre405WithAllow) {
    auto r = send_raw(http_request("PUT", "/mcp", base_headers(), "{}"));
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("allow"), "GET, POST, DELETE");
    EXPECT_EQ(send_raw(http_request("PATCH", "/mcp", base_headers(), "{}")).status, 405);
}

TEST_F(Transport, UnknownPathIs404AndQueryStringIsIgnored) {
    EXPECT_EQ(send_raw(http_request("GET", "/nope", base_headers())).status, 404);
    EXPECT_EQ(send_raw(http_request("GET", "/healthz?x=1", base_headers())).status, 200);
    auto ready = send_raw(http_request("GET", "/readyz", base_headers()));
    EXPECT_EQ(ready.status, 200);
    EXPECT_EQ(ready.json().at("ready"), true);
}

TEST_F(Transport, HostileOriginIs403) {
    for (const char* origin : {"http://evil.example.com", "https://evil.example.com", "null",
                               "http://localhost.evil.example.com", "http://127.0.0.1.nip.io:8080", "file://"}) {
        auto r = post(rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"}}), {}, {{"Origin", origin}});
        EXPECT_EQ(r.status, 403) << origin;
        EXPECT_FALSE(r.has_header("mcp-session-id"));
    }
    EXPECT_EQ(server().sessions().size(), 0u) << "refused before any session was created";
}

TEST_F(Transport, HostileHostIs403) {
    for (const char* host : {"evil.example.com", "evil.example.com:80", "localhost:abc", "", "127.0.0.2"}) {
        Headers h = {{"Host", host}, {"Accept", "application/json, text/event-stream"},
                     {"Content-Type", "application/json"}};
        auto r = send_raw(http_request("POST", "/mcp", h, rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"}})));
        EXPECT_EQ(r.status, 403) << '"' << host << '"';
    }
}

TEST_F(Transport, LoopbackOriginsAndHostsAreAllowed) {
    const auto p = port_text();
    for (std::string origin : {"http://localhost:" + p, "http://127.0.0.1:" + p, "https://[::1]:" + p, std::string("http://localhost")}) {
        auto r = post(rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"}}), {}, {{"Origin", origin}});
        EXPECT_EQ(r.status, 200) << origin;
    }
    for (std::string host : {"localhost:" + p, "LOCALHOST:" + p, "[::1]:" + p, std::string("127.0.0.1")}) {
        Headers h = {{"Host", host}, {"Accept", "application/json, text/event-stream"},
                     {"Content-Type", "application/json"}};
        auto r = send_raw(http_request("POST", "/mcp", h, rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"}})));
        EXPECT_EQ(r.status, 200) << host;
    }
}

TEST_F(Transport, NoOriginIsAllowed) {
    auto r = post(rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"}}));
    EXPECT_EQ(r.status, 200);
}

TEST_F(Transport, Http10RequestWorksAndClosesTheConnection) {
    Client c(port());
    c.send(http_request("GET", "/healthz", {}, {}, "HTTP/1.0"));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.minor_version, 0u);
    EXPECT_TRUE(c.wait_closed(2s));

    Client m(port());
    auto h = base_headers();
    m.send(http_request("POST", "/mcp", h, rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"}}), "HTTP/1.0"));
    r = m.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.header("mcp-session-id").empty());
    EXPECT_TRUE(m.wait_closed(2s));
}

TEST_F(Transport, ConnectionCloseIsHonoured) {
    auto session = initialize();
    Client c(port());
    auto h = base_headers();
    h.emplace_back("Mcp-Session-Id", session);
    h.emplace_back("Connection", "close");
    c.send(http_request("POST", "/mcp", h, rpc_request(1, "ping")));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("connection"), "close");
    EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(Transport, KeepAliveServesSeveralRequestsOnOneConnection) {
    Client c(port());
    auto r = post_on(c, rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"}}));
    ASSERT_EQ(r.status, 200);
    const auto session = r.header("mcp-session-id");
    for (int i = 2; i < 7; ++i) {
        r = post_on(c, rpc_request(i, "ping"), session);
        ASSERT_EQ(r.status, 200) << i << r.error;
        EXPECT_EQ(r.json().at("id"), i);
    }
    c.send(http_request("GET", "/healthz", {{"Host", "127.0.0.1"}}));
    EXPECT_EQ(c.read_response().status, 200);
    EXPECT_FALSE(c.closed());
}

TEST_F(Transport, PipelinedRequestsAreAnsweredInOrder) {
    auto session = initialize();
    auto h = base_headers();
    h.emplace_back("Mcp-Session-Id", session);
    Client c(port());
    c.send(http_request("POST", "/mcp", h, rpc_request(1, "ping")) + http_request("POST", "/mcp", h, rpc_request(2, "ping")));
    EXPECT_EQ(c.read_response().json().at("id"), 1);
    EXPECT_EQ(c.read_response().json().at("id"), 2);
}

// --- 2025-03-26 batches

TEST_F(Transport, BatchOfRequestsAndNotificationsGetsAnArray) {
    auto session = initialize("2025-03-26");
    auto body = "[" + rpc_request(1, "ping") + "," + rpc_notification("notifications/initialized") + "," +
                rpc_request("two", "tools/list") + "," + rpc_request(3, "nope") + "]";
    auto r = post(body, session);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    auto arr = r.json().as_array();
    ASSERT_EQ(arr.size(), 3u) << r.body;
    EXPECT_EQ(arr[0].at("id"), 1);
    EXPECT_EQ(arr[0].at("result"), json::object{});
    EXPECT_EQ(arr[1].at("id"), "two");
    EXPECT_TRUE(arr[1].at("result").as_object().contains("tools"));
    EXPECT_EQ(arr[2].at("error").at("code"), -32601);
}

TEST_F(Transport, BatchOfOnlyNotificationsAndResponsesIs202) {
    auto session = initialize("2025-03-26");
    auto r = post("[" + rpc_notification("notifications/initialized") + R"(,{"jsonrpc":"2.0","id":9,"result":{}}])",
                  session);
    EXPECT_EQ(r.status, 202);
    EXPECT_TRUE(r.body.empty());
}

TEST_F(Transport, InitializeInsideABatchIsAnError) {
    auto session = initialize("2025-03-26");
    auto r = post("[" + rpc_request(1, "initialize", {{"protocolVersion", "2025-03-26"}}) + "," +
                      rpc_request(2, "ping") + "]",
                  session);
    ASSERT_EQ(r.status, 200) << r.body;
    auto arr = r.json().as_array();
    ASSERT_EQ(arr.size(), 2u);
    EXPECT_EQ(arr[0].at("id"), 1);
    EXPECT_EQ(arr[0].at("error").at("code"), -32600);
    EXPECT_EQ(arr[1].at("result"), json::object{});
    EXPECT_EQ(server().sessions().size(), 1u);
}

TEST_F(Transport, InvalidElementsOfABatchGetErrors) {
    auto session = initialize("2025-03-26");
    auto r = post(R"([42, {"jsonrpc":"2.0","id":7,"method":5}])", session);
    ASSERT_EQ(r.status, 200);
    auto arr = r.json().as_array();
    ASSERT_EQ(arr.size(), 2u);
    EXPECT_FALSE(arr[0].as_object().contains("id"));
    EXPECT_EQ(arr[0].at("error").at("code"), -32600);
    EXPECT_EQ(arr[1].at("id"), 7);
}

TEST_F(Transport, OversizedOrEmptyBatchIs400) {
    auto session = initialize("2025-03-26");
    std::string body = "[";
    for (int i = 0; i < 5; ++i) body += (i ? "," : "") + rpc_request(i, "ping");
    auto r = post(body + "]", session);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json().at("error").at("code"), -32600);
    EXPECT_EQ(post("[]", session).status, 400);
}

TEST_F(Transport, BatchIsRefusedOnLaterRevisions) {
    for (const char* version : {"2025-11-25", "2025-06-18"}) {
        auto session = initialize(version);
        auto r = post("[" + rpc_request(1, "ping") + "]", session);
        EXPECT_EQ(r.status, 400) << version;
        EXPECT_EQ(r.json().at("error").at("code"), -32600);
    }
}

}  // namespace
}  // namespace rollout_mcp::test
