// Loopback: MCP 2026-07-28 requests beside 2025 sessions on one /mcp (docs/ARCHITECTURE.md, "Two protocol eras"),
// driven with crafted headers and bodies: envelope errors carry the request id and the specified code and status,
// Mcp-Method / Mcp-Name / Mcp-Param-* must agree with the body, capabilities are checked per request, a tampered
// or foreign requestState is refused, tasks are answered only to the team that made them, and listen streams
// carry only what was asked for. A 2025 session is unaffected by any of it.
#include "test_server.hpp"

#include "base/ascii.hpp"

#include <boost/json.hpp>

namespace rollout_mcp::test {
namespace {
namespace json = boost::json;

constexpr const char* kTasks = "io.modelcontextprotocol/tasks";

class Sessionless : public HttpTest {
protected:
    void SetUp() override { start(); }

    static json::object meta(json::object capabilities = {}) {
        return {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                {"io.modelcontextprotocol/clientCapabilities", std::move(capabilities)}};
    }
    static json::object tasks_caps() { return {{"extensions", json::object{{kTasks, json::object{}}}}}; }

    // A 2026 request with conformant headers unless `extra` overrides them (same name, any case).
    HttpResponse send(json::value id, const std::string& method, json::object params, Headers extra = {},
                      json::object capabilities = {}) {
        if (!params.contains("_meta")) params["_meta"] = meta(std::move(capabilities));
        Headers h{{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", method}};
        for (const char* field : {"name", "taskId", "uri"})
            if (const auto* v = params.if_contains(field); v && v->is_string()) h.emplace_back("Mcp-Name", std::string(v->as_string()));
        for (const auto& override : extra) {   // an override replaces a default; extras may repeat a name
            const std::string name = ascii_lower(override.first);
            std::erase_if(h, [&](const auto& p) { return ascii_lower(p.first) == name; });
        }
        for (const auto& [k, v] : extra)
            if (!v.empty()) h.emplace_back(k, v);
        return post(rpc_request(id, method, params), {}, h);
    }
    static json::value body(const HttpResponse& r) {
        if (r.header("content-type") == "text/event-stream") {
            auto events = parse_sse(r.body);
            for (auto it = events.rbegin(); it != events.rend(); ++it)
                if (!it->data.empty()) return json::parse(it->data);
            return nullptr;
        }
        return json::parse(r.body);
    }
    static std::int64_t code(const json::value& v) { return v.at("error").at("code").as_int64(); }
};

TEST_F(Sessionless, DiscoverAnswersWithoutASessionAndOldSessionsStillWork) {
    auto r = send(1, "server/discover", {});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(r.has_header("mcp-session-id"));
    auto v = body(r).at("result").as_object();
    EXPECT_EQ(v.at("supportedVersions").as_array().at(0), "2026-07-28");
    EXPECT_EQ(v.at("resultType"), "complete");
    EXPECT_TRUE(v.at("capabilities").at("extensions").as_object().contains(kTasks));
    EXPECT_TRUE(v.contains("ttlMs") && v.contains("cacheScope"));
    // A 2025 session on the same endpoint, and initialize with a 2026 version falls back to 2025-11-25.
    const auto session = initialize("2026-07-28");
    ASSERT_FALSE(session.empty());
    auto listed = call(session, rpc_request(2, "tools/list"));
    EXPECT_FALSE(listed.at("result").as_object().contains("resultType")) << "2025 results keep their shape";
}

TEST_F(Sessionless, EnvelopeErrorsEchoTheIdWithTheirCodesAndStatuses) {
    // Header version and _meta disagree: -32020 before anything else.
    auto r = send(7, "server/discover", {}, {{"MCP-Protocol-Version", "2099-01-01"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(code(body(r)), -32020);
    EXPECT_EQ(body(r).at("id"), 7);
    // Both agree on an unknown version: -32022 naming what is supported; control bytes are not echoed.
    json::object odd{{"_meta", json::object{{"io.modelcontextprotocol/protocolVersion", "v9\u0001"},
                                            {"io.modelcontextprotocol/clientCapabilities", json::object{}}}}};
    r = send(8, "server/discover", odd, {{"MCP-Protocol-Version", "v9\x01"}});
    // A header value with a control byte never reaches us as such (the HTTP parser refuses it) or is refused here.
    EXPECT_EQ(r.status, 400);
    r = send(9, "server/discover", json::object{{"_meta", json::object{{"io.modelcontextprotocol/protocolVersion", "v999"},
                                                                      {"io.modelcontextprotocol/clientCapabilities", json::object{}}}}},
             {{"MCP-Protocol-Version", "v999"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(code(body(r)), -32022);
    EXPECT_EQ(body(r).at("error").at("data").at("requested"), "v999");
    // _meta without clientCapabilities: -32602.
    r = send(10, "server/discover", json::object{{"_meta", json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}}}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(code(body(r)), -32602);
    // Removed and unknown methods: 404 -32601.
    for (const char* m : {"initialize", "ping", "logging/setLevel", "resources/subscribe", "tasks/list", "nope/x"}) {
        r = send(11, m, {});
        EXPECT_EQ(r.status, 404) << m;
        EXPECT_EQ(code(body(r)), -32601) << m;
    }
}

TEST_F(Sessionless, NoBatchesAndNoSessionStreams) {
    Headers h{{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/list"}};
    auto r = post("[" + rpc_request(1, "tools/list", json::object{{"_meta", meta()}}) + "]", {}, h);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(code(json::parse(r.body)), -32600);
    for (const char* method : {"GET", "DELETE"}) {
        Headers g = base_headers();
        g.emplace_back("MCP-Protocol-Version", "2026-07-28");
        auto reply = send_raw(http_request(method, "/mcp", g));
        EXPECT_EQ(reply.status, 405) << method;
    }
}

TEST_F(Sessionless, StandardHeadersMustMatchTheBody) {
    json::object call{{"name", "test_simple_text"}, {"arguments", json::object{}}};
    EXPECT_EQ(send(1, "tools/call", call).status, 200);
    EXPECT_EQ(send(1, "tools/call", call, {{"Mcp-Name", "  test_simple_text  "}}).status, 200) << "OWS is trimmed";
    EXPECT_EQ(send(1, "tools/call", call, {{"mcp-method", "tools/call"}}).status, 200) << "names are case-insensitive";
    for (const Headers& bad : {Headers{{"Mcp-Method", "TOOLS/CALL"}}, Headers{{"Mcp-Method", ""}}, Headers{{"Mcp-Name", "echo"}},
                               Headers{{"Mcp-Name", ""}}, Headers{{"Mcp-Method", "tools/list"}}}) {
        auto r = send(2, "tools/call", call, bad);
        EXPECT_EQ(r.status, 400) << bad[0].first << ": " << bad[0].second;
        EXPECT_EQ(code(body(r)), -32020);
    }
    // Mcp-Name on a method that has no name is a mismatch too.
    auto r = send(3, "tools/list", {}, {{"Mcp-Name", "x"}});
    EXPECT_EQ(code(body(r)), -32020);
}

TEST_F(Sessionless, ParamHeadersAreDecodedAndCompared) {
    json::object args{{"region", "Hello"}};
    json::object call{{"name", "test_custom_header"}, {"arguments", args}};
    EXPECT_EQ(send(1, "tools/call", call, {{"Mcp-Param-Region", "Hello"}}).status, 200);
    EXPECT_EQ(send(1, "tools/call", call, {{"mcp-param-region", "=?base64?SGVsbG8=?="}}).status, 200);
    for (const char* bad : {"=?base64?SGVsbG8?=", "=?base64?SGVs!!!bG8=?=", "=?base64?SGVsbG9=?=", "hello", ""}) {
        auto r = send(2, "tools/call", call, {{"Mcp-Param-Region", bad}});
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_EQ(code(body(r)), -32020) << bad;
    }
    // Two headers for one parameter, and a header for an argument that is absent.
    auto r = send(3, "tools/call", call, {{"Mcp-Param-Region", "Hello"}, {"MCP-PARAM-REGION", "Hello"}});
    EXPECT_EQ(r.status, 400);
    json::object none{{"name", "test_custom_header"}, {"arguments", json::object{}}};
    EXPECT_EQ(send(4, "tools/call", none, {{"Mcp-Param-Region", "x"}}).status, 400);
}

TEST_F(Sessionless, CapabilitiesAreCheckedPerRequest) {
    json::object call{{"name", "test_missing_capability"}, {"arguments", json::object{}}};
    auto r = send(1, "tools/call", call);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(code(body(r)), -32021);
    EXPECT_TRUE(body(r).at("error").at("data").at("requiredCapabilities").as_object().contains("sampling"));
    EXPECT_EQ(send(2, "tools/call", call, {}, json::object{{"sampling", json::object{}}}).status, 200);
    // The next request without it is refused again: nothing is remembered.
    EXPECT_EQ(send(3, "tools/call", call).status, 400);
    // Task methods need the extension, checked before the id is looked up.
    r = send(4, "tasks/get", json::object{{"taskId", "whatever"}});
    EXPECT_EQ(code(body(r)), -32021);
}

TEST_F(Sessionless, RequestStateIsBoundToItsTeamToolAndBytes) {
    json::object call{{"name", "test_input_required_result_tampered_state"}, {"arguments", json::object{}}};
    auto first = body(send(1, "tools/call", call)).at("result").as_object();
    ASSERT_EQ(first.at("resultType"), "input_required");
    const std::string state(first.at("requestState").as_string());
    json::object answers{{"confirm", json::object{{"action", "accept"}, {"content", json::object{{"ok", true}}}}}};
    auto retry = [&](std::string s, std::string tool) {
        json::object c{{"name", tool}, {"arguments", json::object{}}, {"inputResponses", answers}, {"requestState", s}};
        return body(send(2, "tools/call", c));
    };
    EXPECT_TRUE(retry(state, "test_input_required_result_tampered_state").as_object().contains("result"));
    EXPECT_EQ(code(retry(state + "-TAMPERED", "test_input_required_result_tampered_state")), -32602);
    EXPECT_EQ(code(retry(state.substr(0, state.size() - 1), "test_input_required_result_tampered_state")), -32602);
    std::string flipped = state;
    flipped[3] = flipped[3] == 'A' ? 'B' : 'A';
    EXPECT_EQ(code(retry(flipped, "test_input_required_result_tampered_state")), -32602);
    // Another tool's state does not open here.
    EXPECT_EQ(code(retry(state, "test_input_required_result_request_state")), -32602);
}

TEST_F(Sessionless, TasksLifecycleAndCancel) {
    json::object call{{"name", "slow_compute"}, {"arguments", json::object{{"seconds", 30}}}};
    auto created = body(send(1, "tools/call", call, {}, tasks_caps())).at("result").as_object();
    ASSERT_EQ(created.at("resultType"), "task");
    const std::string id(created.at("taskId").as_string());
    EXPECT_EQ(id.size(), 3u + 32u);
    EXPECT_FALSE(created.contains("result") || created.contains("requestState"));
    auto got = body(send(2, "tasks/get", json::object{{"taskId", id}}, {}, tasks_caps())).at("result").as_object();
    EXPECT_EQ(got.at("status"), "working");
    auto ack = body(send(3, "tasks/cancel", json::object{{"taskId", id}}, {}, tasks_caps())).at("result").as_object();
    EXPECT_EQ(ack, (json::object{{"resultType", "complete"}}));
    EXPECT_TRUE(wait_for([&] {
        return body(send(4, "tasks/get", json::object{{"taskId", id}}, {}, tasks_caps())).at("result").at("status") == "cancelled";
    }, 3s));
    // Idempotent on a terminal task; unknown ids are -32602; Mcp-Name must be the task id.
    EXPECT_EQ(send(5, "tasks/cancel", json::object{{"taskId", id}}, {}, tasks_caps()).status, 200);
    EXPECT_EQ(code(body(send(6, "tasks/get", json::object{{"taskId", "fx_0000"}}, {}, tasks_caps()))), -32602);
    EXPECT_EQ(code(body(send(7, "tasks/get", json::object{{"taskId", id}}, {{"Mcp-Name", "fx_other"}}, tasks_caps()))), -32020);
    // Without the extension the same tool answers in line.
    auto inline_result = body(send(8, "tools/call", json::object{{"name", "slow_compute"}, {"arguments", json::object{{"seconds", 0}}}}));
    EXPECT_EQ(inline_result.at("result").at("resultType"), "complete");
}

TEST_F(Sessionless, ListenStreamCarriesOnlyWhatWasAskedAndIsTagged) {
    Client c(port());
    json::object params{{"notifications", json::object{{"toolsListChanged", true}}}, {"_meta", meta()}};
    Headers h = base_headers();
    h.emplace_back("MCP-Protocol-Version", "2026-07-28");
    h.emplace_back("Mcp-Method", "subscriptions/listen");
    ASSERT_TRUE(c.send(http_request("POST", "/mcp", h, rpc_request(42, "subscriptions/listen", params))));
    auto head = c.read_head();
    ASSERT_EQ(head.status, 200);
    auto ack = c.next_event(2s);
    ASSERT_TRUE(ack);
    auto first = json::parse(ack->data).as_object();
    EXPECT_EQ(first.at("method"), "notifications/subscriptions/acknowledged");
    EXPECT_EQ(first.at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId"), 42);
    EXPECT_EQ(first.at("params").at("notifications").at("toolsListChanged"), true);
    send(1, "tools/call", json::object{{"name", "test_trigger_tool_change"}, {"arguments", json::object{}}});
    auto changed = c.next_event(2s);
    ASSERT_TRUE(changed);
    auto n = json::parse(changed->data).as_object();
    EXPECT_EQ(n.at("method"), "notifications/tools/list_changed");
    EXPECT_EQ(n.at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId"), 42);
    // Task ids need the extension.
    json::object tasks_listen{{"notifications", json::object{{"taskIds", json::array{"fx_x"}}}}, {"_meta", meta()}};
    EXPECT_EQ(code(body(send(2, "subscriptions/listen", tasks_listen))), -32021);
}

TEST_F(Sessionless, ListenFollowsOnlyTheCallersOwnTasks) {
    auto created = body(send(1, "tools/call", json::object{{"name", "slow_compute"}, {"arguments", json::object{{"seconds", 1}}}},
                             {}, tasks_caps())).at("result").as_object();
    const std::string id(created.at("taskId").as_string());
    Client c(port());
    json::object params{{"notifications", json::object{{"taskIds", json::array{json::string(id), "fx_unknown", json::string(id)}}}},
                        {"_meta", meta(tasks_caps())}};
    Headers h = base_headers();
    h.emplace_back("MCP-Protocol-Version", "2026-07-28");
    h.emplace_back("Mcp-Method", "subscriptions/listen");
    ASSERT_TRUE(c.send(http_request("POST", "/mcp", h, rpc_request("L1", "subscriptions/listen", params))));
    ASSERT_EQ(c.read_head().status, 200);
    auto ack = c.next_event(2s);
    ASSERT_TRUE(ack);
    const auto agreed = json::parse(ack->data).at("params").at("notifications").at("taskIds");
    EXPECT_EQ(agreed, (json::array{json::string(id)})) << "unknown ids left out, duplicates once";
    std::string last_status;
    for (int i = 0; i < 4 && last_status != "completed"; ++i) {
        auto e = c.next_event(3s);
        ASSERT_TRUE(e);
        auto n = json::parse(e->data).as_object();
        ASSERT_EQ(n.at("method"), "notifications/tasks");
        EXPECT_EQ(n.at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId"), "L1");
        EXPECT_EQ(n.at("params").at("taskId"), json::value(id));
        last_status = std::string(n.at("params").at("status").as_string());
    }
    EXPECT_EQ(last_status, "completed");
}

}  // namespace
}  // namespace rollout_mcp::test
