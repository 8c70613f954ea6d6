// Loopback: the standalone GET stream (priming per revision, keep-alive, 409), SSE headers, resuming with
// Last-Event-ID (test_reconnection), bad Last-Event-ID values, and concurrent POST streams.
#include "test_server.hpp"

#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/sse.hpp"

#include <boost/json.hpp>

namespace rollout_mcp::test {
namespace {
namespace json = boost::json;

class Sse : public HttpTest {
protected:
    void SetUp() override {
        start([](Config& c) {
            c.mcp.sse_keepalive = std::chrono::milliseconds(100);
            c.mcp.sse_retry = std::chrono::milliseconds(750);
        });
    }

    Headers get_headers(const std::string& session, const Headers& extra = {}) {
        Headers h = {{"Host", "127.0.0.1:" + std::to_string(port())}, {"Accept", "text/event-stream"}};
        if (!session.empty()) h.emplace_back("Mcp-Session-Id", session);
        h.insert(h.end(), extra.begin(), extra.end());
        return h;
    }

    // GET /mcp on a new connection; the head is read, the body is left to next_event().
    std::unique_ptr<Client> open_get(const std::string& session, HttpResponse& head, const Headers& extra = {}) {
        auto c = std::make_unique<Client>(port());
        c->send(http_request("GET", "/mcp", get_headers(session, extra)));
        head = c->read_head();
        return c;
    }
};

void expect_sse_headers(const HttpResponse& head) {
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-type"), "text/event-stream");
    EXPECT_EQ(head.header("cache-control"), "no-cache");
    EXPECT_EQ(head.header("x-accel-buffering"), "no");
}

TEST_F(Sse, GetStreamStartsWithAPrimingEventOn20251125) {
    auto session = initialize("2025-11-25");
    HttpResponse head;
    auto c = open_get(session, head);
    expect_sse_headers(head);
    EXPECT_EQ(head.header("mcp-session-id"), session);
    auto ev = c->next_event(2s);
    ASSERT_TRUE(ev);
    EXPECT_TRUE(ev->has_id);
    EXPECT_TRUE(ev->data.empty());
    EXPECT_EQ(ev->retry, 750u);
    auto id = sse::parse_event_id(ev->id);
    ASSERT_TRUE(id) << ev->id;
    EXPECT_EQ(id->epoch, server().endpoint().epoch());
    EXPECT_EQ(id->stream, 0u);
}

TEST_F(Sse, NoPrimingEventBefore20251125) {
    for (const char* version : {"2025-03-26", "2025-06-18"}) {
        auto session = initialize(version);
        HttpResponse head;
        auto c = open_get(session, head);
        expect_sse_headers(head);
        auto first = c->next_event(2s, false);
        ASSERT_TRUE(first) << version;
        EXPECT_TRUE(first->comment_only) << version << ": first event " << first->id << " " << first->data;
    }
}

TEST_F(Sse, KeepAliveCommentsArrive) {
    auto session = initialize();
    HttpResponse head;
    auto c = open_get(session, head);
    ASSERT_EQ(head.status, 200);
    ASSERT_TRUE(c->next_event(2s));   // priming
    int comments = 0;
    const auto start = std::chrono::steady_clock::now();
    while (comments < 3 && std::chrono::steady_clock::now() - start < 2s) {
        auto ev = c->next_event(1s, false);
        ASSERT_TRUE(ev) << "stream ended or stalled";
        if (ev->comment_only) ++comments;
    }
    EXPECT_EQ(comments, 3);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms) << "sse_keepalive_ms = 100";
}

TEST_F(Sse, SecondGetStreamIs409) {
    auto session = initialize();
    HttpResponse head;
    auto first = open_get(session, head);
    ASSERT_EQ(head.status, 200);
    auto second = send_raw(http_request("GET", "/mcp", get_headers(session)));
    EXPECT_EQ(second.status, 409);
    // Once the first reader goes away, a new GET stream is possible.
    first.reset();
    const bool reopened = wait_for([&] {
        HttpResponse again;
        auto c = open_get(session, again);
        return again.status == 200;
    }, 2500ms, 50ms);
    EXPECT_TRUE(reopened) << "the dead reader was not detached";
}

TEST_F(Sse, GetNeedsAKnownSession) {
    EXPECT_EQ(send_raw(http_request("GET", "/mcp", get_headers(""))).status, 400);
    EXPECT_EQ(send_raw(http_request("GET", "/mcp", get_headers(std::string(32, 'c')))).status, 404);
}

TEST_F(Sse, PostStreamIsResumedWithLastEventId) {
    auto session = initialize("2025-11-25");
    Client post_conn(port());
    auto h = base_headers();
    h.emplace_back("Mcp-Session-Id", session);
    post_conn.send(http_request("POST", "/mcp", h, rpc_request(9, "tools/call", {{"name", "test_reconnection"}})));
    auto r = post_conn.read_response(3s);
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.header("x-accel-buffering"), "no");
    auto events = parse_sse(r.body);
    ASSERT_EQ(events.size(), 1u) << "the POST stream ends after the priming event: " << r.body;
    ASSERT_TRUE(events[0].has_id);
    EXPECT_TRUE(events[0].data.empty());
    EXPECT_EQ(events[0].retry, 750u);

    HttpResponse head;
    auto c = open_get(session, head, {{"Last-Event-ID", events[0].id}});
    expect_sse_headers(head);
    auto ev = c->next_event(3s);
    ASSERT_TRUE(ev);
    auto v = ev->json();
    EXPECT_EQ(v.at("id"), 9);
    EXPECT_EQ(v.at("result").at("content").at(0).at("text"), "Reconnection test completed successfully");
    auto id = sse::parse_event_id(ev->id);
    ASSERT_TRUE(id);
    EXPECT_EQ(id->stream, sse::parse_event_id(events[0].id)->stream);
    EXPECT_FALSE(c->next_event(1s)) << "the stream ends after its result";
    EXPECT_TRUE(c->body_ended());
}

TEST_F(Sse, FinishedStreamIsReplayedFromAnyEarlierId) {
    auto session = initialize();
    json::object params{{"name", "test_tool_with_progress"}, {"_meta", json::object{{"progressToken", 1}}}};
    auto r = post(rpc_request(3, "tools/call", params), session);
    auto events = parse_sse(r.body);
    ASSERT_GE(events.size(), 5u) << r.body;   // priming, 3 progress, result
    // Resume after the first progress notification: the rest is replayed, then the stream ends.
    HttpResponse head;
    auto c = open_get(session, head, {{"Last-Event-ID", events[1].id}});
    ASSERT_EQ(head.status, 200);
    std::vector<std::string> replayed;
    while (auto ev = c->next_event(2s)) replayed.push_back(ev->id);
    ASSERT_EQ(replayed.size(), events.size() - 2);
    for (std::size_t i = 0; i < replayed.size(); ++i) EXPECT_EQ(replayed[i], events[i + 2].id);
    EXPECT_TRUE(c->body_ended());
}

TEST_F(Sse, MalformedLastEventIdIs400) {
    auto session = initialize();
    for (const char* bad : {"garbage", "1-2", "zzzzzzzz.1.1", "00000001.1"}) {
        auto r = send_raw(http_request("GET", "/mcp", get_headers(session, {{"Last-Event-ID", bad}})));
        EXPECT_EQ(r.status, 400) << '"' << bad << '"';
    }
}

TEST_F(Sse, LastEventIdFromAnotherServerRunIs400) {
    auto session = initialize();
    const auto foreign = sse::format_event_id({server().endpoint().epoch() ^ 0x5a5a5a5au, 0, 0});
    auto r = send_raw(http_request("GET", "/mcp", get_headers(session, {{"Last-Event-ID", foreign}})));
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.status, 404) << "404 means only that the session is gone";
}

TEST_F(Sse, LastEventIdOfAnUnknownStreamIs400) {
    auto session = initialize();
    const auto id = sse::format_event_id({server().endpoint().epoch(), 77, 0});
    EXPECT_EQ(send_raw(http_request("GET", "/mcp", get_headers(session, {{"Last-Event-ID", id}}))).status, 400);
}

TEST_F(Sse, LastEventIdBeyondTheStreamIsRefused) {
    auto session = initialize();
    auto r = post(rpc_request(1, "tools/call", {{"name", "test_reconnection"}}), session);
    auto events = parse_sse(r.body);
    ASSERT_FALSE(events.empty());
    auto id = *sse::parse_event_id(events[0].id);
    id.seq = 1000;
    const int status =
        send_raw(http_request("GET", "/mcp", get_headers(session, {{"Last-Event-ID", sse::format_event_id(id)}}))).status;
    EXPECT_TRUE(status == 400 || status == 409) << status << ": an id the stream never issued";
}

TEST_F(Sse, ResumingAnotherSessionsStreamIsRefused) {
    auto a = initialize();
    auto b = initialize();
    auto r = post(rpc_request(1, "tools/call", {{"name", "test_reconnection"}}), a);
    auto events = parse_sse(r.body);
    ASSERT_FALSE(events.empty());
    std::this_thread::sleep_for(200ms);
    auto other = send_raw(http_request("GET", "/mcp", get_headers(b, {{"Last-Event-ID", events[0].id}})), 2s);
    EXPECT_EQ(other.status, 400) << "stream numbers are per session: " << other.body;
}

TEST_F(Sse, ConcurrentPostStreamsAllWork) {
    auto session = initialize();
    std::vector<std::unique_ptr<Client>> clients;
    auto h = base_headers();
    h.emplace_back("Mcp-Session-Id", session);
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<Client>(port()));
        clients.back()->send(http_request("POST", "/mcp", h,
                                          rpc_request(1000 + i, "tools/call",
                                                      {{"name", "test_slow"}, {"arguments", json::object{{"ms", 150}}}})));
    }
    for (int i = 0; i < 3; ++i) {
        auto r = clients[i]->read_response(3s);
        ASSERT_EQ(r.status, 200) << r.error;
        auto events = parse_sse(r.body);
        ASSERT_FALSE(events.empty());
        EXPECT_EQ(events.back().json().at("id"), 1000 + i);
    }
}

}  // namespace
}  // namespace rollout_mcp::test
