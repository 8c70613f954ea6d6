// Loopback: stream lifetimes. A dropped connection is not a cancellation, a cancelled request's stream is
// held open on resume, DELETE ends streams and work, per-session and per-server caps, keep-alive after SSE.
#include "test_server.hpp"

#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/session.hpp"

#include <boost/json.hpp>

namespace rollout_mcp::test {
namespace {
namespace json = boost::json;

class Streams : public HttpTest {
protected:
    void SetUp() override {
        start([](Config& c) {
            c.mcp.sse_keepalive = std::chrono::milliseconds(100);
            c.mcp.max_pending_requests = 2;
            c.server.max_connections = 8;
        });
    }
    Headers with_session(Headers h, const std::string& session) {
        h.emplace_back("Mcp-Session-Id", session);
        return h;
    }
    Headers get_headers(const std::string& session) {
        return with_session({{"Host", "127.0.0.1"}, {"Accept", "text/event-stream"}}, session);
    }
    // Starts test_slow; returns the connection after the SSE head and the priming event (its id in `priming`).
    std::unique_ptr<Client> start_slow(const std::string& session, json::value id, int ms, std::string* priming = nullptr) {
        auto c = std::make_unique<Client>(port());
        c->send(http_request("POST", "/mcp", with_session(base_headers(), session),
                             rpc_request(id, "tools/call", {{"name", "test_slow"}, {"arguments", json::object{{"ms", ms}}}})));
        EXPECT_EQ(c->read_head().status, 200);
        auto ev = c->next_event(2s);
        EXPECT_TRUE(ev && ev->has_id);
        if (ev && priming) *priming = ev->id;
        return c;
    }
};

TEST_F(Streams, DisconnectIsNotCancellation) {
    auto session = initialize();
    std::string priming;
    start_slow(session, 1, 300, &priming).reset();   // the client goes away mid-call
    ASSERT_TRUE(wait_for([&] { return server().slow().completed.load() == 1; }));
    EXPECT_EQ(server().slow().cancelled.load(), 0);
    auto h = get_headers(session);
    h.emplace_back("Last-Event-ID", priming);
    Client c(port());
    c.send(http_request("GET", "/mcp", h));
    ASSERT_EQ(c.read_head().status, 200);
    auto ev = c.next_event(2s);
    ASSERT_TRUE(ev) << "the result was not kept for the resuming client";
    EXPECT_EQ(ev->json().at("result").at("content").at(0).at("text"), "slow done");
}

TEST_F(Streams, ResumeTakesOverFromAConnectionThatLooksAlive) {
    auto session = initialize();
    std::string priming;
    auto old_conn = start_slow(session, 4, 400, &priming);   // the client believes this one is dead
    auto h = get_headers(session);
    h.emplace_back("Last-Event-ID", priming);
    Client c(port());
    c.send(http_request("GET", "/mcp", h));
    ASSERT_EQ(c.read_head().status, 200);
    EXPECT_FALSE(old_conn->next_event(1s)) << "the displaced response carries nothing more";
    EXPECT_TRUE(old_conn->body_ended() || old_conn->closed());
    auto ev = c.next_event(2s);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->json().at("id"), 4);
    EXPECT_TRUE(ev->json().as_object().contains("result"));
}

TEST_F(Streams, ResumedCancelledStreamIsHeldOpen) {
    auto session = initialize();
    std::string priming;
    start_slow(session, 2, 5000, &priming).reset();
    ASSERT_EQ(post(rpc_notification("notifications/cancelled", {{"requestId", 2}}), session).status, 202);
    ASSERT_TRUE(wait_for([&] { return server().slow().cancelled.load() == 1; }));
    auto h = get_headers(session);
    h.emplace_back("Last-Event-ID", priming);
    Client c(port());
    c.send(http_request("GET", "/mcp", h));
    ASSERT_EQ(c.read_head().status, 200);
    auto ev = c.next_event(400ms, false);
    ASSERT_TRUE(ev) << "closing it would make clients re-poll forever";
    EXPECT_TRUE(ev->comment_only) << ev->data;
    EXPECT_FALSE(c.body_ended());
}

TEST_F(Streams, DeleteEndsTheGetStreamAndCancelsWork) {
    auto session = initialize();
    Client get(port());
    get.send(http_request("GET", "/mcp", get_headers(session)));
    ASSERT_EQ(get.read_head().status, 200);
    auto call = start_slow(session, 3, 5000);
    ASSERT_EQ(send_raw(http_request("DELETE", "/mcp", with_session(base_headers(), session))).status, 200);
    EXPECT_TRUE(wait_for([&] { return server().slow().cancelled.load() == 1; })) << "in-flight work is cancelled";
    bool ended = false;
    for (int i = 0; i < 20 && !ended; ++i) {
        get.next_event(100ms);
        ended = get.body_ended() || get.closed();
    }
    EXPECT_TRUE(ended) << "the GET stream of a deleted session must end";
    EXPECT_TRUE(wait_for([&] { return server().endpoint().running_tools() == 0; }));
}

TEST_F(Streams, TooManyRequestsInFlightPerSession) {
    auto session = initialize();
    auto a = start_slow(session, 1, 5000);
    auto b = start_slow(session, 2, 5000);
    auto v = call(session, rpc_request(3, "tools/call", {{"name", "test_simple_text"}}));
    EXPECT_EQ(v.at("id"), 3);
    EXPECT_EQ(v.at("error").at("code"), -32000);
    EXPECT_EQ(call(session, rpc_request(4, "ping")).at("result"), json::object{}) << "other methods still work";
    post(rpc_notification("notifications/cancelled", {{"requestId", 1}}), session);
    ASSERT_TRUE(wait_for([&] { return server().slow().cancelled.load() == 1; }));
    v = call(session, rpc_request(5, "tools/call", {{"name", "test_simple_text"}}));
    EXPECT_TRUE(v.as_object().contains("result")) << json::serialize(v);
    post(rpc_notification("notifications/cancelled", {{"requestId", 2}}), session);
    EXPECT_TRUE(wait_for([&] { return server().slow().cancelled.load() == 2; }));
}

TEST_F(Streams, ConnectionIsReusableAfterAnSseResponse) {
    auto session = initialize();
    Client c(port());
    json::object params{{"name", "test_tool_with_progress"}, {"_meta", json::object{{"progressToken", 1}}}};
    auto r = post_on(c, rpc_request(1, "tools/call", params), session);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.header("transfer-encoding"), "chunked");
    EXPECT_FALSE(parse_sse(r.body).empty());
    r = post_on(c, rpc_request(2, "ping"), session);
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_FALSE(c.closed());
}

TEST_F(Streams, GetStreamOverHttp10IsReadToClose) {
    auto session = initialize();
    Client c(port());
    c.send(http_request("GET", "/mcp", get_headers(session), {}, "HTTP/1.0"));
    auto head = c.read_head();
    ASSERT_EQ(head.status, 200);
    EXPECT_FALSE(head.has_header("transfer-encoding"));
    auto ev = c.next_event(2s);
    ASSERT_TRUE(ev);
    EXPECT_TRUE(ev->has_id);   // priming, unframed
    auto comment = c.next_event(1s, false);
    ASSERT_TRUE(comment);
    EXPECT_TRUE(comment->comment_only);
}

TEST_F(Streams, StandaloneStreamCanBeResumed) {
    auto session = initialize();
    std::string priming;
    {
        Client c(port());
        c.send(http_request("GET", "/mcp", get_headers(session)));
        ASSERT_EQ(c.read_head().status, 200);
        auto ev = c.next_event(2s);
        ASSERT_TRUE(ev);
        priming = ev->id;
    }
    auto h = get_headers(session);
    h.emplace_back("Last-Event-ID", priming);
    // Until the server notices the first reader is gone, a second reader is refused with 409.
    const bool resumed = wait_for(
        [&] {
            Client c(port());
            c.send(http_request("GET", "/mcp", h));
            const auto head = c.read_head();
            EXPECT_TRUE(head.status == 200 || head.status == 409) << head.status;
            return head.status == 200;
        },
        2500ms, 50ms);
    EXPECT_TRUE(resumed);
}

TEST_F(Streams, ConnectionsBeyondTheCapAreClosed) {
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 8; ++i) {
        held.push_back(std::make_unique<Client>(port()));
        held.back()->send(http_request("GET", "/healthz", {{"Host", "127.0.0.1"}}));
        ASSERT_EQ(held.back()->read_response().status, 200) << i;
    }
    Client extra(port());
    extra.send(http_request("GET", "/healthz", {{"Host", "127.0.0.1"}}));
    EXPECT_EQ(extra.read_response(2s).status, 0);
    EXPECT_TRUE(extra.closed());
    held.clear();
    EXPECT_TRUE(wait_for([&] { return healthz() == 200; }, 1s, 20ms)) << "room again once connections close";
}

TEST_F(Streams, ConcurrentClientsStress) {
    server_.reset();
    start();   // default connection cap
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i) {
                Client c(port());
                auto r = post_on(c, rpc_request(0, "initialize", {{"protocolVersion", "2025-11-25"}}));
                const auto session = r.header("mcp-session-id");
                if (r.status != 200 || session.empty()) {
                    ++failures;
                    continue;
                }
                json::object params{{"name", "test_tool_with_progress"}, {"_meta", json::object{{"progressToken", t}}}};
                r = post_on(c, rpc_request(1, "tools/call", params), session);
                auto events = parse_sse(r.body);
                if (r.status != 200 || events.size() < 4 || !events.back().json().as_object().contains("result"))
                    ++failures;
                if (post_on(c, rpc_request(2, "ping"), session).status != 200) ++failures;
                Client d(port());
                d.send(http_request("DELETE", "/mcp", with_session(base_headers(), session)));
                if (d.read_response().status != 200) ++failures;
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(server().sessions().size(), 0u);
}

TEST_F(Streams, LargeOversizedBodyStillGets413) {
    server_.reset();
    start([](Config& c) { c.server.max_body_bytes = 4096; });
    auto wire = http_request("POST", "/mcp", base_headers(), std::string(1 << 20, ' '));
    Client c(port());
    c.send(wire);   // may fail part-way: the server stops reading
    auto r = c.read_response(2s);
    EXPECT_EQ(r.status, 413) << "a client that is still sending must still see the 413: " << r.error;
}

}  // namespace
}  // namespace rollout_mcp::test
