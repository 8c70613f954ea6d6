// Per-team pacing (server/mcp/team_rate_limit.hpp): the token bucket's rules on an injected clock, then the
// endpoint: a team over its rate is paced or refused with 429 before its body is parsed, another team not.
#include "support/endpoint_request.hpp"
#include "server/mcp/auth.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/app/observability.hpp"
#include "server/mcp/team_rate_limit.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp {
namespace {
using namespace std::chrono_literals;
using Kind = TeamRateLimiter::Decision::Kind;

TeamRateSettings settings(double rate, double burst, std::chrono::milliseconds max_wait, std::size_t max_waiting) {
    return TeamRateSettings{rate, burst, max_wait, max_waiting};
}

TEST(TeamRateLimiter, BurstIsAdmittedThenRequestsWaitTheirTurnInOrder) {
    TeamRateLimiter limiter(settings(10, 3, 1000ms, 100));
    const auto t0 = TeamRateLimiter::Clock::now();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::admit) << i;
    // 10/s: each further request's turn is 100 ms after the previous one's.
    for (int i = 1; i <= 10; ++i) {
        auto d = limiter.acquire("a", t0);
        ASSERT_EQ(d.kind, Kind::wait) << i;
        EXPECT_EQ(d.wait, std::chrono::milliseconds(100 * i)) << i;
    }
    // The eleventh would wait 1.1 s, over max_wait: refused, told when to come back.
    auto refused = limiter.acquire("a", t0);
    EXPECT_EQ(refused.kind, Kind::refuse);
    EXPECT_EQ(refused.retry_after, 2s);
}

TEST(TeamRateLimiter, TeamsHaveTheirOwnBuckets) {
    TeamRateLimiter limiter(settings(1, 1, 0ms, 0));
    const auto t0 = TeamRateLimiter::Clock::now();
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::admit);
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::refuse);
    EXPECT_EQ(limiter.acquire("b", t0).kind, Kind::admit);
    EXPECT_EQ(limiter.acquire("b", t0).kind, Kind::refuse);
}

TEST(TeamRateLimiter, RefillsWithTimeUpToTheBurstOnly) {
    TeamRateLimiter limiter(settings(10, 2, 0ms, 0));
    const auto t0 = TeamRateLimiter::Clock::now();
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::admit);
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::admit);
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::refuse);
    EXPECT_EQ(limiter.acquire("a", t0 + 100ms).kind, Kind::admit);   // one token back
    EXPECT_EQ(limiter.acquire("a", t0 + 100ms).kind, Kind::refuse);
    const auto later = t0 + 1h;                                     // quiet for an hour: still only the burst
    EXPECT_EQ(limiter.acquire("a", later).kind, Kind::admit);
    EXPECT_EQ(limiter.acquire("a", later).kind, Kind::admit);
    EXPECT_EQ(limiter.acquire("a", later).kind, Kind::refuse);
}

TEST(TeamRateLimiter, AtMostMaxWaitingWaitAtOnceAndARefusalCostsNothing) {
    TeamRateLimiter limiter(settings(10, 1, 10s, 2));
    const auto t0 = TeamRateLimiter::Clock::now();
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::admit);
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::wait);
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::wait);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::refuse);
    limiter.done_waiting("a");
    // The refusals reserved nothing: the next waiter's turn is right after the two already promised.
    auto d = limiter.acquire("a", t0);
    ASSERT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.wait, 300ms);
}

TEST(TeamRateLimiter, ABatchIsChargedPerCallAndItsDebtIsBounded) {
    TeamRateLimiter limiter(settings(10, 5, 1000ms, 100));
    const auto t0 = TeamRateLimiter::Clock::now();
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::admit);   // the batch's POST
    limiter.charge("a", 7, t0);                                // its other calls: 4 - 7 = 3 tokens owed
    auto d = limiter.acquire("a", t0);
    ASSERT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.wait, 400ms);                                  // (1 + 3) / 10 s
    limiter.charge("b", 1'000'000'000, t0);                    // a debt of at most a day's tokens
    auto refused = limiter.acquire("b", t0);
    EXPECT_EQ(refused.kind, Kind::refuse);
    EXPECT_LE(refused.retry_after, 86'401s);
    EXPECT_EQ(limiter.acquire("b", t0 + 86'401s).kind, Kind::admit);
}

TEST(TeamRateLimiter, ATinyRateRefusesWithABoundedRetryAfter) {
    TeamRateLimiter limiter(settings(0.001, 1, 1000ms, 100));
    const auto t0 = TeamRateLimiter::Clock::now();
    EXPECT_EQ(limiter.acquire("a", t0).kind, Kind::admit);
    auto refused = limiter.acquire("a", t0);
    ASSERT_EQ(refused.kind, Kind::refuse);
    EXPECT_EQ(refused.retry_after, 1000s);
    EXPECT_EQ(limiter.acquire("a", t0 - 1h).kind, Kind::refuse) << "a clock that went back refills nothing";
}

TEST(TeamRateLimiter, ZeroRateMeansNoLimit) {
    TeamRateLimiter limiter(settings(0, 1, 0ms, 0));
    const auto t0 = TeamRateLimiter::Clock::now();
    for (int i = 0; i < 10'000; ++i) ASSERT_EQ(limiter.acquire("a", t0).kind, Kind::admit);
}

// "Bearer <team>" is that team: enough to drive two teams through the endpoint.
class TeamNameAuth : public Authenticator {
public:
    boost::asio::awaitable<AuthOutcome> authenticate(std::string_view authorization) override {
        AuthOutcome out;
        if (authorization.substr(0, 7) != "Bearer ") co_return out;
        out.status = AuthOutcome::Status::ok;
        out.tenant = std::string(authorization.substr(7));
        co_return out;
    }
};

class EndpointPacing : public ::testing::Test {
protected:
    void make(double rate, std::size_t burst, std::size_t max_paced) {
        config_.auth.mode = "api_key";
        config_.mcp.requests_per_second_per_team = rate;
        config_.mcp.request_burst_per_team = burst;
        config_.mcp.max_paced_requests_per_team = max_paced;
        config_.mcp.max_pace_wait = 1000ms;
        endpoint_ = std::make_unique<McpEndpoint>(config_, tools_, *sessions_, auth_);
    }
    HttpReply post(const std::string& team, const std::string& body, const std::string& session = {}) {
        const std::string authorization = "Bearer " + team;   // HttpRequest holds views: keep it alive
        HttpRequest r = test::mcp_post(body);
        r.session_id = session;
        r.authorization = authorization;
        return test::handle_now(ioc_, *endpoint_, r);
    }
    static std::string header(const HttpReply& r, std::string_view wanted) { return test::header_of(r, wanted); }
    static std::string retry_after(const HttpReply& r) { return header(r, "Retry-After"); }
    const std::string init_ = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})";
    Config config_;
    ToolRegistry tools_;
    std::unique_ptr<mcp::SessionStore> sessions_ = mcp::make_in_memory_session_store({});
    TeamNameAuth auth_;
    std::unique_ptr<McpEndpoint> endpoint_;
    boost::asio::io_context ioc_;
};

TEST_F(EndpointPacing, AFloodingTeamGets429BeforeItsBodyIsParsedWhileAnotherTeamIsServed) {
    make(1, 3, 0);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(post("team-a", init_).status, 200u) << i;
    const double refused_before = observe::paced_requests().with({"refused"}).value();
    // Not JSON: a 400 would mean the body was parsed; over the rate it is never looked at.
    auto r = post("team-a", "{not json");
    EXPECT_EQ(r.status, 429u);
    EXPECT_EQ(retry_after(r), "1");
    auto error = boost::json::parse(r.body).as_object().at("error").as_object();
    EXPECT_NE(std::string(error.at("message").as_string()).find("requests_per_second_per_team"), std::string::npos);
    EXPECT_EQ(observe::paced_requests().with({"refused"}).value(), refused_before + 1);
    for (int i = 0; i < 2; ++i) EXPECT_EQ(post("team-b", init_).status, 200u) << "team B, request " << i;
    EXPECT_EQ(post("team-b", "{not json").status, 400u);   // B is within its burst: parsed and refused as bad JSON
}

TEST_F(EndpointPacing, ARequestOverTheRateWaitsItsTurnAndIsServed) {
    make(50, 1, 4);   // the second request's turn comes 20 ms later
    EXPECT_EQ(post("team-a", init_).status, 200u);
    const double waited_before = observe::paced_requests().with({"waited"}).value();
    EXPECT_EQ(post("team-a", init_).status, 200u);
    EXPECT_EQ(observe::paced_requests().with({"waited"}).value(), waited_before + 1);
}

// Pacing counts calls: a 2025-03-26 batch of eight pings costs eight tokens, not one POST's.
TEST_F(EndpointPacing, ABatchCostsOneTokenPerCall) {
    make(1, 10, 0);
    auto init = post("team-a", R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26"}})");
    ASSERT_EQ(init.status, 200u);
    const auto session = header(init, "Mcp-Session-Id");
    ASSERT_FALSE(session.empty());
    std::string batch = "[";
    for (int i = 0; i < 8; ++i) batch += (i ? "," : "") + std::string(R"({"jsonrpc":"2.0","id":)") + std::to_string(10 + i) + R"(,"method":"ping"})";
    batch += "]";
    EXPECT_EQ(post("team-a", batch, session).status, 200u);                        // 10 - 1 - 8 = 1 token left
    EXPECT_EQ(post("team-a", R"({"jsonrpc":"2.0","id":2,"method":"ping"})", session).status, 200u);
    EXPECT_EQ(post("team-a", R"({"jsonrpc":"2.0","id":3,"method":"ping"})", session).status, 429u)
        << "charged per POST, the batch would have left seven tokens";
}

}  // namespace
}  // namespace rollout_mcp
