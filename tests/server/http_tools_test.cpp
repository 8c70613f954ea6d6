// Loopback: ping, logging/setLevel, tools/list pages, tools/call errors per revision, progress and log
// notifications on the request's SSE stream, and cancellation.
#include "test_server.hpp"

#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/tool_registry.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace rollout_mcp::test {
namespace {
namespace json = boost::json;

class Tools : public HttpTest {
protected:
    void SetUp() override {
        start([](Config& c) { c.mcp.tools_page_size = 4; });
    }

    json::value tool_call(const std::string& session, json::value id, std::string_view name,
                          const json::object* args = nullptr, const std::string& version = {}) {
        json::object params{{"name", name}};
        if (args) params["arguments"] = *args;
        return call(session, rpc_request(id, "tools/call", params), version);
    }

    // tools/call with a progress token; all SSE events of the (finite) reply stream.
    std::vector<SseEvent> call_streamed(const std::string& session, json::value id, std::string_view tool,
                                        json::value token) {
        json::object params{{"name", tool}, {"_meta", json::object{{"progressToken", token}}}};
        auto r = post(rpc_request(id, "tools/call", params), session);
        EXPECT_EQ(r.status, 200) << r.error;
        EXPECT_EQ(r.header("content-type"), "text/event-stream");
        return parse_sse(r.body);
    }

    // Starts test_slow on its own connection; returns once the SSE head and priming event are read.
    std::unique_ptr<Client> start_slow(const std::string& session, json::value id, int ms = 5000) {
        auto c = std::make_unique<Client>(port());
        json::object params{{"name", "test_slow"}, {"arguments", json::object{{"ms", ms}}}};
        auto h = base_headers();
        h.emplace_back("Mcp-Session-Id", session);
        c->send(http_request("POST", "/mcp", h, rpc_request(id, "tools/call", params)));
        auto head = c->read_head();
        EXPECT_EQ(head.status, 200);
        EXPECT_EQ(head.header("content-type"), "text/event-stream");
        auto priming = c->next_event(2s);
        EXPECT_TRUE(priming && priming->has_id && priming->data.empty());
        return c;
    }
};

TEST_F(Tools, PingResultIsExactlyEmpty) {
    auto session = initialize();
    auto r = post(rpc_request(11, "ping"), session);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"jsonrpc":"2.0","id":11,"result":{}})");
}

TEST_F(Tools, SetLevelResultIsExactlyEmpty) {
    auto session = initialize();
    auto r = post(rpc_request("lvl", "logging/setLevel", {{"level", "warning"}}), session);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"jsonrpc":"2.0","id":"lvl","result":{}})");
}

TEST_F(Tools, BadLogLevelIsInvalidParams) {
    auto session = initialize();
    for (auto params : {json::object{{"level", "verbose"}}, json::object{{"level", 3}}, json::object{}}) {
        auto v = call(session, rpc_request(1, "logging/setLevel", params));
        EXPECT_EQ(v.at("error").at("code"), -32602) << json::serialize(params);
    }
}

TEST_F(Tools, ToolsListPaginates) {
    auto session = initialize();
    std::vector<std::string> names;
    json::object params;
    for (int page = 0;; ++page) {
        ASSERT_LT(page, 10);
        auto v = call(session, rpc_request(page, "tools/list", params));
        const auto& result = v.at("result").as_object();
        const auto& tools = result.at("tools").as_array();
        EXPECT_LE(tools.size(), 4u);
        for (const auto& t : tools) {
            names.emplace_back(t.at("name").as_string());
            EXPECT_FALSE(t.at("description").as_string().empty());
            EXPECT_EQ(t.at("inputSchema").at("type"), "object");
        }
        if (!result.contains("nextCursor")) break;
        params = {{"cursor", result.at("nextCursor")}};
    }
    EXPECT_EQ(names.size(), server().tools().size());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(std::unique(names.begin(), names.end()), names.end()) << "no tool listed twice";
}

TEST_F(Tools, BadCursorIsInvalidParams) {
    auto session = initialize();
    for (auto cursor : {json::value("bogus"), json::value("t999"), json::value(4)}) {
        auto v = call(session, rpc_request(1, "tools/list", {{"cursor", cursor}}));
        EXPECT_EQ(v.at("error").at("code"), -32602) << json::serialize(cursor);
    }
}

TEST_F(Tools, UnknownToolIsInvalidParams) {
    for (const char* version : {"2025-11-25", "2025-06-18", "2025-03-26"}) {
        auto session = initialize(version);
        auto v = tool_call(session, 1, "no_such_tool");
        EXPECT_EQ(v.at("error").at("code"), -32602) << version;
        v = call(session, rpc_request(2, "tools/call", {{"arguments", json::object{}}}));
        EXPECT_EQ(v.at("error").at("code"), -32602) << "no name: " << version;
    }
}

TEST_F(Tools, CallReturnsContent) {
    auto session = initialize();
    json::object args{{"text", "hello"}};
    auto v = tool_call(session, 3, "echo", &args);
    EXPECT_EQ(v.at("id"), 3);
    EXPECT_EQ(v.at("result").at("content").at(0).at("text"), "hello");
    v = tool_call(session, 4, "test_simple_text");   // no "arguments" at all
    EXPECT_EQ(v.at("result").at("content").at(0).at("type"), "text");
    v = tool_call(session, 5, "test_error_handling");
    EXPECT_EQ(v.at("result").at("isError"), true);
}

TEST_F(Tools, HandlerFaultIsInternalError) {
    auto session = initialize();
    auto v = tool_call(session, 8, "test_throw");
    EXPECT_EQ(v.at("id"), 8);
    EXPECT_EQ(v.at("error").at("code"), -32603);
    EXPECT_EQ(std::string(v.at("error").at("message").as_string()).find("boom"), std::string::npos)
        << "internal details stay in the log";
    // Streamed (progress token): the error is the stream's final event.
    auto events = call_streamed(session, 9, "test_throw", 9);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().json().at("error").at("code"), -32603);
    EXPECT_EQ(server().endpoint().running_tools(), 0u);
}

TEST_F(Tools, InvalidArgumentsAreAToolErrorOn20251125) {
    auto session = initialize("2025-11-25");
    json::object args{{"text", 5}};
    auto v = tool_call(session, 1, "echo", &args);
    const auto& result = v.at("result").as_object();
    EXPECT_EQ(result.at("isError"), true);
    EXPECT_NE(std::string(result.at("content").at(0).at("text").as_string()).find("text"), std::string::npos);
    v = tool_call(session, 2, "echo");   // required "text" missing
    EXPECT_EQ(v.at("result").at("isError"), true);
}

TEST_F(Tools, InvalidArgumentsAreInvalidParamsBefore20251125) {
    for (const char* version : {"2025-06-18", "2025-03-26"}) {
        auto session = initialize(version);
        json::object args{{"text", 5}};
        auto v = tool_call(session, 1, "echo", &args);
        EXPECT_EQ(v.at("error").at("code"), -32602) << version;
        EXPECT_FALSE(v.as_object().contains("result"));
    }
    auto session = initialize("2025-06-18");
    auto v = call(session, rpc_request(1, "tools/call", {{"name", "echo"}, {"arguments", "text"}}));
    EXPECT_EQ(v.at("error").at("code"), -32602) << "arguments must be an object";
}

void expect_progress(const std::vector<SseEvent>& events, const json::value& token, json::value id) {
    std::vector<double> values;
    bool result_last = false;
    for (const auto& ev : events) {
        auto v = ev.json();
        if (!v.is_object()) continue;
        EXPECT_FALSE(result_last) << "nothing after the result: " << ev.data;
        if (v.as_object().contains("result")) {
            EXPECT_EQ(v.at("id"), id);
            result_last = true;
            continue;
        }
        ASSERT_EQ(v.at("method"), "notifications/progress") << ev.data;
        const auto& p = v.at("params").as_object();
        EXPECT_EQ(p.at("progressToken"), token) << "token echoed with its JSON type: " << ev.data;
        ASSERT_TRUE(p.at("progress").is_number()) << ev.data;
        EXPECT_TRUE(p.at("progress").is_int64()) << "whole numbers go out as integers: " << ev.data;
        EXPECT_EQ(ev.data.find("E"), std::string::npos) << ev.data;
        values.push_back(p.at("progress").to_number<double>());
        EXPECT_EQ(p.at("total").to_number<double>(), 100.0);
    }
    EXPECT_TRUE(result_last);
    ASSERT_GE(values.size(), 3u);
    for (std::size_t i = 1; i < values.size(); ++i) EXPECT_GT(values[i], values[i - 1]);
}

TEST_F(Tools, ProgressWithAnIntegerToken) {
    auto session = initialize();
    expect_progress(call_streamed(session, 7, "test_tool_with_progress", 7), 7, 7);
}

TEST_F(Tools, ProgressWithAStringToken) {
    auto session = initialize();
    expect_progress(call_streamed(session, "r1", "test_tool_with_progress", "progress-test-1"), "progress-test-1",
                    "r1");
}

TEST_F(Tools, ProgressTokenOnAQuickToolStreamsJustTheResult) {
    auto session = initialize();
    json::object params{{"name", "test_simple_text"}, {"_meta", json::object{{"progressToken", 1}}}};
    auto r = post(rpc_request(1, "tools/call", params), session);
    EXPECT_EQ(r.header("content-type"), "text/event-stream");
    EXPECT_EQ(r.header("x-accel-buffering"), "no");
    auto events = parse_sse(r.body);
    ASSERT_FALSE(events.empty());
    EXPECT_TRUE(events.back().json().as_object().contains("result"));
}

std::vector<json::value> log_messages(const std::vector<SseEvent>& events) {
    std::vector<json::value> out;
    for (const auto& ev : events)
        if (auto v = ev.json(); v.is_object() && v.as_object().contains("method")) {
            EXPECT_EQ(v.at("method"), "notifications/message");
            out.push_back(v.at("params"));
        }
    return out;
}

TEST_F(Tools, LogNotificationsAfterSetLevelDebug) {
    auto session = initialize();
    ASSERT_EQ(call(session, rpc_request(1, "logging/setLevel", {{"level", "debug"}})).at("result"), json::object{});
    auto r = post(rpc_request(2, "tools/call", {{"name", "test_tool_with_logging"}}), session);
    ASSERT_EQ(r.header("content-type"), "text/event-stream");
    auto events = parse_sse(r.body);
    auto logs = log_messages(events);
    ASSERT_GE(logs.size(), 3u);
    for (const auto& p : logs) {
        EXPECT_EQ(p.at("level"), "info");
        EXPECT_TRUE(p.as_object().contains("data"));
    }
    EXPECT_TRUE(events.back().json().as_object().contains("result"));
}

TEST_F(Tools, NoLogNotificationsBelowTheLevel) {
    auto session = initialize();
    ASSERT_EQ(call(session, rpc_request(1, "logging/setLevel", {{"level", "warning"}})).at("result"), json::object{});
    auto r = post(rpc_request(2, "tools/call", {{"name", "test_tool_with_logging"}}), session);
    auto events = parse_sse(r.body);
    EXPECT_TRUE(log_messages(events).empty()) << r.body;
    ASSERT_FALSE(events.empty());
    EXPECT_TRUE(events.back().json().as_object().contains("result"));
}

TEST_F(Tools, CancellationStopsTheHandlerAndNoResponseArrives) {
    auto session = initialize();
    auto c = start_slow(session, 42);
    ASSERT_TRUE(wait_for([&] { return server().slow().started.load() == 1; }));
    auto r = post(rpc_notification("notifications/cancelled", {{"requestId", 42}, {"reason", "test"}}), session);
    EXPECT_EQ(r.status, 202);
    ASSERT_TRUE(wait_for([&] { return server().slow().cancelled.load() == 1; })) << "the handler was not cancelled";
    EXPECT_EQ(server().slow().completed.load(), 0);
    // The stream stays open (keep-alives) and never carries a response for id 42.
    int comments = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 700ms; std::chrono::steady_clock::now() < deadline;) {
        auto ev = c->next_event(100ms, false);
        if (!ev) continue;
        if (ev->comment_only) ++comments;
        else ADD_FAILURE() << "unexpected event after cancellation: " << ev->data;
    }
    EXPECT_GE(comments, 1) << "keep-alives on the cancelled request's stream";
    EXPECT_FALSE(c->body_ended());
    EXPECT_TRUE(wait_for([&] { return server().endpoint().running_tools() == 0; }));
}

// Inside a 2025-03-26 batch a tool call is answered in the JSON array, which HTTP needs: cancelled while it
// runs, its entry is the -32800 error (server/mcp/mcp_dispatch.cpp, finish_call).
TEST_F(Tools, CancellationInABatchAnswersRequestCancelled) {
    auto session = initialize("2025-03-26");
    Client c(port());
    auto h = base_headers();
    h.emplace_back("Mcp-Session-Id", session);
    json::object params{{"name", "test_slow"}, {"arguments", json::object{{"ms", 5000}}}};
    ASSERT_TRUE(c.send(http_request("POST", "/mcp", h, "[" + rpc_request(7, "tools/call", params) + "]")));
    ASSERT_TRUE(wait_for([&] { return server().slow().started.load() == 1; }));
    EXPECT_EQ(post(rpc_notification("notifications/cancelled", {{"requestId", 7}}), session).status, 202);
    auto r = c.read_response(3s);
    ASSERT_EQ(r.status, 200) << r.error;
    const auto body = r.json();
    ASSERT_TRUE(body.is_array()) << r.body;
    const auto& reply = body.as_array().at(0).as_object();
    EXPECT_EQ(reply.at("id"), 7);
    ASSERT_TRUE(reply.contains("error")) << r.body;
    EXPECT_EQ(reply.at("error").at("code"), -32800);
    EXPECT_EQ(server().slow().cancelled.load(), 1);
    EXPECT_EQ(server().slow().completed.load(), 0);
}

TEST_F(Tools, CancellationMatchesTheIdWithItsType) {
    auto session = initialize();
    auto c = start_slow(session, 42);
    EXPECT_EQ(post(rpc_notification("notifications/cancelled", {{"requestId", "42"}}), session).status, 202);
    EXPECT_EQ(post(rpc_notification("notifications/cancelled", {{"requestId", 43}}), session).status, 202);
    EXPECT_EQ(post(rpc_notification("notifications/cancelled", {}), session).status, 202);
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(server().slow().cancelled.load(), 0) << "\"42\" is not 42";
    EXPECT_EQ(post(rpc_notification("notifications/cancelled", {{"requestId", 42}}), session).status, 202);
    EXPECT_TRUE(wait_for([&] { return server().slow().cancelled.load() == 1; }));
}

TEST_F(Tools, DuplicateInFlightIdIsRefused) {
    auto session = initialize();
    auto c = start_slow(session, "dup");
    auto v = call(session, rpc_request("dup", "tools/call", {{"name", "test_simple_text"}}));
    EXPECT_EQ(v.at("id"), "dup");
    EXPECT_EQ(v.at("error").at("code"), -32600);
    post(rpc_notification("notifications/cancelled", {{"requestId", "dup"}}), session);
    EXPECT_TRUE(wait_for([&] { return server().slow().cancelled.load() == 1; }));
}

TEST_F(Tools, SlowCallCompletesOnItsStream) {
    auto session = initialize();
    auto c = start_slow(session, 1, 100);
    auto ev = c->next_event(3s);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->json().at("result").at("content").at(0).at("text"), "slow done");
    EXPECT_FALSE(c->next_event(1s));
    EXPECT_TRUE(c->body_ended());
}

}  // namespace
}  // namespace rollout_mcp::test
