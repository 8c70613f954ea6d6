// Per-team request pacing over real sockets (server/mcp/team_rate_limit.hpp; auth.mode = "none", so every
// client is the one `default` team): concurrent requests on their own connections get the burst, then
// bounded waits, then 429 with Retry-After; a client that leaves while its request waits costs nothing later.
#include "test_server.hpp"

#include <boost/json.hpp>

namespace rollout_mcp::test {
namespace {
using namespace std::chrono_literals;
namespace json = boost::json;

class Pacing : public HttpTest {
protected:
    std::string initialize_wire() const {
        return http_request("POST", "/mcp", base_headers(),
                            rpc_request(1, "initialize", {{"protocolVersion", "2025-11-25"},
                                                          {"capabilities", json::object{}},
                                                          {"clientInfo", json::object{{"name", "pacing"}, {"version", "1"}}}}));
    }
};

TEST_F(Pacing, ConcurrentRequestsGetTheBurstThenBoundedWaitsThen429) {
    start([](Config& c) {
        c.mcp.requests_per_second_per_team = 2;   // after the burst of 2: turns at +0.5 s and +1 s fit the 1 s wait
        c.mcp.request_burst_per_team = 2;
        c.mcp.max_paced_requests_per_team = 32;
        c.mcp.max_pace_wait = 1000ms;
    });
    const auto wire = initialize_wire();
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 10; ++i) clients.push_back(std::make_unique<Client>(port()));
    const auto sent = std::chrono::steady_clock::now();
    for (auto& c : clients) ASSERT_TRUE(c->send(wire));
    int ok = 0, refused = 0;
    auto last_ok = sent;
    for (auto& c : clients) {
        auto r = c->read_response(5s);
        if (r.status == 200) {
            ++ok;
            last_ok = std::max(last_ok, std::chrono::steady_clock::now());
        } else if (r.status == 429) {
            ++refused;
            EXPECT_GE(std::stoi(r.header("retry-after")), 1);
            const auto error = r.json().as_object().at("error").as_object();
            EXPECT_NE(std::string(error.at("message").as_string()).find("requests_per_second_per_team"), std::string::npos);
        } else {
            ADD_FAILURE() << "status " << r.status << " " << r.error << " " << r.body;
        }
    }
    // Two at once, two after waiting their turns; one more only if the sends were spread over 250 ms or more.
    EXPECT_GE(ok, 4);
    EXPECT_LE(ok, 5);
    EXPECT_EQ(ok + refused, 10);
    EXPECT_GE(last_ok - sent, 900ms) << "the last admitted request waited for its turn";
}

TEST_F(Pacing, AClientThatLeavesWhileItsRequestWaitsDoesNotKeepItsPlace) {
    start([](Config& c) {
        c.mcp.requests_per_second_per_team = 4;
        c.mcp.request_burst_per_team = 1;
        c.mcp.max_paced_requests_per_team = 1;   // one waiting place: a leaked one would refuse the last request
        c.mcp.max_pace_wait = 2000ms;
    });
    const auto wire = initialize_wire();
    EXPECT_EQ(send_raw(wire).status, 200);   // the burst
    {
        Client leaving(port());
        ASSERT_TRUE(leaving.send(wire));       // waits 250 ms for its turn; the client is gone before that
    }
    std::this_thread::sleep_for(1s);         // the bucket refills to its burst of one
    EXPECT_EQ(send_raw(wire).status, 200);   // admitted at once
    const auto before = std::chrono::steady_clock::now();
    EXPECT_EQ(send_raw(wire).status, 200) << "waited in the place the leaving client had";
    EXPECT_GE(std::chrono::steady_clock::now() - before, 200ms);
}

}  // namespace
}  // namespace rollout_mcp::test
