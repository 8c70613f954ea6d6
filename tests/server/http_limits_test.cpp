// Loopback: body and header limits, slow clients cut off by the request timeout, a stalled SSE reader cut
// off by the write timeout, the session cap under an
// initialize flood (memory bounded), and idle session expiry.
#include "test_server.hpp"

#include "server/mcp/session.hpp"

#include <boost/json.hpp>

namespace rollout_mcp::test {
namespace {
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

class Limits : public HttpTest {
protected:
    Headers session_headers(const std::string& session) {
        auto h = base_headers();
        h.emplace_back("Mcp-Session-Id", session);
        return h;
    }
    std::string echo_call(std::size_t text_bytes) {
        return rpc_request(1, "tools/call",
                           {{"name", "echo"}, {"arguments", json::object{{"text", std::string(text_bytes, 'x')}}}});
    }
};

TEST_F(Limits, OversizedBodyIs413AndTheConnectionCloses) {
    start([](Config& c) { c.server.max_body_bytes = 2048; });
    auto session = initialize();
    Client ok(port());
    ok.send(http_request("POST", "/mcp", session_headers(session), echo_call(1500)));
    EXPECT_EQ(ok.read_response().status, 200) << "a body under the limit is fine";

    Client c(port());
    c.send(http_request("POST", "/mcp", session_headers(session), echo_call(8000)));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 413) << r.error;
    EXPECT_FALSE(r.json().as_object().contains("id"));
    EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(Limits, DeclaredOversizedBodyIsRefusedBeforeItIsSent) {
    start([](Config& c) { c.server.max_body_bytes = 2048; });
    auto h = base_headers();
    h.emplace_back("Content-Length", "100000000");
    Client c(port());
    c.send(http_request("POST", "/mcp", h));   // head only; the body never comes
    auto r = c.read_response(2s);
    EXPECT_EQ(r.status, 413) << r.error;
    EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(Limits, OversizedChunkedBodyIs413) {
    start([](Config& c) { c.server.max_body_bytes = 2048; });
    auto session = initialize();
    auto h = session_headers(session);
    h.emplace_back("Transfer-Encoding", "chunked");
    std::string body;
    for (int i = 0; i < 4; ++i) body += "400\r\n" + std::string(0x400, ' ') + "\r\n";
    Client c(port());
    c.send(http_request("POST", "/mcp", h, body + "0\r\n\r\n"));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 413) << r.error;
    EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(Limits, OversizedHeadersAre431) {
    start([](Config& c) { c.server.max_header_bytes = 1024; });
    auto h = base_headers();
    h.emplace_back("X-Padding", std::string(4000, 'p'));
    Client c(port());
    c.send(http_request("POST", "/mcp", h, rpc_request(1, "ping")));
    auto r = c.read_response();
    EXPECT_EQ(r.status, 431) << r.error;
    EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(Limits, MalformedHttpIs400) {
    start();
    auto r = send_raw("THIS IS NOT HTTP\r\n\r\n");
    EXPECT_EQ(r.status, 400) << r.error;
    auto h = base_headers();
    h.emplace_back("Content-Length", "abc");
    EXPECT_EQ(send_raw(http_request("POST", "/mcp", h)).status, 400);
    h.back().second = "-1";
    EXPECT_EQ(send_raw(http_request("POST", "/mcp", h)).status, 400);
}

// Sends `wire` one byte every 300 ms until the server hangs up; serves /healthz from another
// connection meanwhile. Returns how long the slow connection lasted.
Clock::duration trickle(std::uint16_t port, const std::string& wire, const std::function<int()>& healthz,
                        int& served) {
    Client slow(port);
    const auto start = Clock::now();
    for (char byte : wire) {
        if (!slow.send(std::string(1, byte))) break;
        if (healthz() == 200) ++served;
        if (slow.wait_closed(300ms)) break;
        if (Clock::now() - start > 5s) break;
    }
    return Clock::now() - start;
}

TEST_F(Limits, SlowHeadersAreCutOffByTheRequestTimeout) {
    start([](Config& c) { c.server.request_timeout = std::chrono::milliseconds(1000); });
    int served = 0;
    auto lasted = trickle(port(), http_request("POST", "/mcp", base_headers(), rpc_request(1, "ping")),
                          [this] { return healthz(); }, served);
    EXPECT_GE(lasted, 900ms);
    EXPECT_LT(lasted, 2500ms) << "the connection was not cut off";
    EXPECT_GE(served, 2) << "other clients are served meanwhile";
}

TEST_F(Limits, SlowBodyIsCutOffByTheRequestTimeout) {
    start([](Config& c) { c.server.request_timeout = std::chrono::milliseconds(1000); });
    auto session = initialize();
    auto wire = http_request("POST", "/mcp", session_headers(session), rpc_request(1, "ping"));
    const auto body_start = wire.find("\r\n\r\n") + 4;
    Client slow(port());
    slow.send(wire.substr(0, body_start));
    int served = 0;
    const auto start_time = Clock::now();
    for (std::size_t i = body_start; i < wire.size(); ++i) {
        if (!slow.send(wire.substr(i, 1))) break;
        if (healthz() == 200) ++served;
        if (slow.wait_closed(300ms) || Clock::now() - start_time > 5s) break;
    }
    EXPECT_LT(Clock::now() - start_time, 2500ms);
    EXPECT_TRUE(slow.closed());
    EXPECT_GE(served, 2);
}

TEST_F(Limits, SseReaderThatNeverReadsIsCutOffByTheWriteTimeout) {
    start([](Config& c) {
        c.server.write_timeout = std::chrono::milliseconds(800);
        // Room to keep every event, so the writer really has 32 MiB to push (with a smaller replay budget a
        // stalled reader loses the oldest events instead, and the writer never blocks).
        c.mcp.replay_buffer_bytes = 64 * 1024 * 1024;
        c.mcp.replay_events_per_stream = 8192;
    });
    auto session = initialize();
    Client stalled(port());
    // 32 MiB of notifications: far more than the loopback socket buffers hold.
    stalled.send(http_request("POST", "/mcp", session_headers(session),
                              rpc_request(7, "tools/call", {{"name", "test_flood"},
                                                            {"arguments", json::object{{"events", 4096}, {"bytes", 8192}}}})));
    int served = 0;
    const auto start_time = Clock::now();
    while (Clock::now() - start_time < 2500ms) {
        if (healthz() == 200) ++served;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_GE(served, 10) << "other clients were not served while one reader stalled";
    // Reading now drains what the socket buffers held and then meets the server's close; a connection the
    // server had kept would deliver all 32 MiB and then stay open (keep-alive).
    EXPECT_TRUE(stalled.wait_closed(5s)) << "the stalled SSE connection was not cut off";
    EXPECT_EQ(call(session, rpc_request(8, "ping")).at("result"), json::object{}) << "the session still works";
}

TEST_F(Limits, IdleKeepAliveConnectionIsClosedAfterTheRequestTimeout) {
    start([](Config& c) { c.server.request_timeout = std::chrono::milliseconds(500); });
    Client c(port());
    c.send(http_request("GET", "/healthz", {{"Host", "127.0.0.1"}}));
    ASSERT_EQ(c.read_response().status, 200);
    const auto t0 = Clock::now();
    EXPECT_TRUE(c.wait_closed(2s));
    EXPECT_LT(Clock::now() - t0, 1500ms);
}

TEST_F(Limits, InitializeFloodHitsTheSessionCapWithBoundedMemory) {
    start([](Config& c) {
        c.mcp.max_sessions = 1000;
        c.mcp.requests_per_second_per_team = 0;   // about the session cap: pacing would stretch this to 100 s
    });
    const auto rss_before = rss_kib();
    const std::string body = rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"},
                                                           {"capabilities", json::object{}},
                                                           {"clientInfo", json::object{{"name", "flood"}, {"version", "1"}}}});
    const auto wire = http_request("POST", "/mcp", base_headers(), body);
    int ok = 0, busy = 0, other = 0;
    bool retry_after = true;
    std::string first_session;
    auto c = std::make_unique<Client>(port());
    for (int i = 0; i < 10000; ++i) {
        if (!c->send(wire)) {
            c = std::make_unique<Client>(port());
            c->send(wire);
        }
        auto r = c->read_response();
        if (r.status == 200) {
            if (ok++ == 0) first_session = r.header("mcp-session-id");
        } else if (r.status == 503) {
            ++busy;
            retry_after = retry_after && !r.header("retry-after").empty();
            if (busy == 1) {
                EXPECT_EQ(ok, 1000) << "503 only once the cap is reached";
            }
        } else {
            ++other;
            if (r.status == 0) c = std::make_unique<Client>(port());
        }
    }
    EXPECT_EQ(ok, 1000);
    EXPECT_EQ(busy, 9000);
    EXPECT_EQ(other, 0);
    EXPECT_TRUE(retry_after);
    EXPECT_EQ(server().sessions().size(), 1000u);
    const auto rss_after = rss_kib();
#if defined(ROLLOUT_MCP_SANITIZED)
    const std::size_t bound_kib = 512 * 1024;   // ASan keeps freed memory in quarantine
#else
    const std::size_t bound_kib = 48 * 1024;    // 1000 live sessions need a few MiB
#endif
    EXPECT_LT(rss_after, rss_before + bound_kib) << "RSS grew from " << rss_before << " to " << rss_after << " KiB";
    RecordProperty("rss_growth_kib", std::to_string(rss_after > rss_before ? rss_after - rss_before : 0));
    EXPECT_EQ(healthz(), 200);
    // Ending a session makes room for exactly one more.
    EXPECT_EQ(send_raw(http_request("DELETE", "/mcp", session_headers(first_session))).status, 200);
    EXPECT_EQ(send_raw(wire).status, 200);
    EXPECT_EQ(send_raw(wire).status, 503);
}

TEST_F(Limits, IdleSessionExpires) {
    start([](Config& c) { c.mcp.session_idle_timeout = std::chrono::seconds(1); });
    auto session = initialize();
    std::this_thread::sleep_for(400ms);
    ASSERT_EQ(post(rpc_request(1, "ping"), session).status, 200);   // activity resets the clock
    const auto touched = Clock::now();
    wait_for([&] { return server().sessions().size() == 0; }, 4s, 50ms);
    const auto idle_for = Clock::now() - touched;
    EXPECT_EQ(server().sessions().size(), 0u) << "the sweeper did not expire the session";
    EXPECT_GE(idle_for, 1s);
    EXPECT_LT(idle_for, 2500ms);
    EXPECT_EQ(post(rpc_request(2, "ping"), session).status, 404);
}

}  // namespace
}  // namespace rollout_mcp::test
