// Loopback: graceful shutdown. stop() returns at once; GET streams and idle connections end, in-flight
// tool calls finish (or are cancelled at the grace deadline), and run() returns 0.
#include "test_server.hpp"

#include <boost/json.hpp>

namespace rollout_mcp::test {
namespace {
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

class Shutdown : public HttpTest {
protected:
    std::unique_ptr<Client> open_get(const std::string& session) {
        auto c = std::make_unique<Client>(port());
        c->send(http_request("GET", "/mcp",
                             {{"Host", "127.0.0.1"}, {"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}}));
        EXPECT_EQ(c->read_head().status, 200);
        EXPECT_TRUE(c->next_event(2s));   // priming
        return c;
    }
    std::unique_ptr<Client> start_slow(const std::string& session, int ms) {
        auto c = std::make_unique<Client>(port());
        auto h = base_headers();
        h.emplace_back("Mcp-Session-Id", session);
        c->send(http_request("POST", "/mcp", h,
                             rpc_request(5, "tools/call", {{"name", "test_slow"}, {"arguments", json::object{{"ms", ms}}}})));
        EXPECT_EQ(c->read_head().status, 200);
        EXPECT_TRUE(c->next_event(2s));   // priming
        return c;
    }
};

TEST_F(Shutdown, GracefulStopFinishesInFlightCallsAndReturnsZero) {
    start([](Config& c) { c.server.shutdown_grace = std::chrono::milliseconds(5000); });
    auto session = initialize();
    auto get = open_get(session);
    auto call = start_slow(session, 700);
    Client idle(port());
    idle.send(http_request("GET", "/healthz", {{"Host", "127.0.0.1"}}));
    ASSERT_EQ(idle.read_response().status, 200);

    const auto t0 = Clock::now();
    server().stop();
    EXPECT_LT(Clock::now() - t0, 100ms) << "stop() only starts the shutdown";

    EXPECT_FALSE(get->next_event(2s)) << "the GET stream carries nothing more";
    EXPECT_TRUE(get->body_ended() || get->closed()) << "the GET stream was not ended";
    EXPECT_LT(Clock::now() - t0, 1s);
    EXPECT_TRUE(idle.wait_closed(1s)) << "idle keep-alive connections are closed";

    auto ev = call->next_event(3s);
    ASSERT_TRUE(ev) << "the in-flight call's result did not arrive";
    EXPECT_EQ(ev->json().at("id"), 5);
    EXPECT_EQ(ev->json().at("result").at("content").at(0).at("text"), "slow done");
    EXPECT_EQ(server().slow().completed.load(), 1);
    EXPECT_EQ(server().slow().cancelled.load(), 0);

    auto code = server().wait_exit(3s);
    ASSERT_TRUE(code) << "run() did not return";
    EXPECT_EQ(*code, 0);
    EXPECT_LT(Clock::now() - t0, 2500ms);
}

TEST_F(Shutdown, HeldOpenCancelledStreamDoesNotDelayShutdown) {
    start([](Config& c) { c.server.shutdown_grace = std::chrono::milliseconds(3000); });
    auto session = initialize();
    auto call = start_slow(session, 5000);
    auto h = base_headers();
    h.emplace_back("Mcp-Session-Id", session);
    ASSERT_EQ(send_raw(http_request("POST", "/mcp", h, rpc_notification("notifications/cancelled", {{"requestId", 5}})))
                  .status,
              202);
    ASSERT_TRUE(wait_for([&] { return server().slow().cancelled.load() == 1; }));
    // The cancelled request's stream is held open with keep-alives; stopping must not wait for it.
    const auto t0 = Clock::now();
    server().stop();
    auto code = server().wait_exit(5s);
    ASSERT_TRUE(code);
    EXPECT_LT(Clock::now() - t0, 1s) << "shutdown waited for a stream that will never carry anything";
    EXPECT_TRUE(call->wait_closed(1s));
}

TEST_F(Shutdown, IdleServerStopsQuickly) {
    start();
    initialize();
    const auto t0 = Clock::now();
    server().stop();
    auto code = server().wait_exit(2s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0);
    EXPECT_LT(Clock::now() - t0, 500ms);
}

TEST_F(Shutdown, CallsPastTheGraceDeadlineAreCancelled) {
    start([](Config& c) { c.server.shutdown_grace = std::chrono::milliseconds(400); });
    auto session = initialize();
    auto call = start_slow(session, 5000);
    const auto t0 = Clock::now();
    server().stop();
    auto code = server().wait_exit(3s);
    ASSERT_TRUE(code) << "run() did not return after the grace period";
    EXPECT_EQ(*code, 0);
    EXPECT_GE(Clock::now() - t0, 350ms);
    EXPECT_LT(Clock::now() - t0, 2s);
    EXPECT_EQ(server().slow().cancelled.load(), 1);
    EXPECT_EQ(server().slow().completed.load(), 0);
    EXPECT_TRUE(call->wait_closed(1s));
}

TEST_F(Shutdown, NewConnectionsAreRefusedAfterStop) {
    start();
    server().stop();
    ASSERT_TRUE(server().wait_exit(2s));
    EXPECT_THROW(Client c(port()), std::runtime_error);
}

}  // namespace
}  // namespace rollout_mcp::test
