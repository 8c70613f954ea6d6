// Tests of the fake Rollout's network faults after a write is applied (reset, half-close, hang, truncated
// body), on a fresh and on a reused keep-alive connection, plus a reset before anything is applied and a 5xx
// HTML page. These are the faults a real network produces and that exactly-once delivery must survive.
#include "fake_test.hpp"

namespace rollout_mcp::fake::test {
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string kPerson = R"({"firstName":"Ann","lastName":"Buyer"})";

struct Case {
    const char* action;
    const char* expected_error;   // a substring of the client's transport error ("" = none)
};

}  // namespace

class NetworkFaultTest : public FakeTest, public ::testing::WithParamInterface<std::tuple<Case, bool>> {
protected:
    // POSTs a person with the fault armed; on a reused connection a GET goes first on the same socket.
    HttpResponse post_under_fault(const std::string& cred, bool reused) {
        const Case c = std::get<0>(GetParam());
        auto rule = control("POST", "/faults",
                            std::string(R"({"match":{"method":"POST","pathPrefix":"/crm/api/people","reusedConnection":)") +
                                (reused ? "true" : "false") + R"(},"action":")" + c.action + R"("})");
        EXPECT_EQ(rule.status, 201) << rule.body;
        CallOptions o;
        o.timeout = 800ms;
        o.headers = {{"Authorization", "Bearer " + token}, {"X-Rollout-Credential-Id", cred},
                     {"Content-Type", "application/json"}};
        std::vector<SequencedRequest> seq;
        if (reused) seq.push_back({"GET", "/crm/api/people?limit=1", "", {}});
        seq.push_back({"POST", "/crm/api/people", kPerson, {}});
        auto results = call_kept_alive(fake->port(), seq, o);
        EXPECT_EQ(results.size(), seq.size());
        if (reused) {
            EXPECT_EQ(results.front().status, 200) << results.front().error;
        }
        return results.back();
    }
};

TEST_P(NetworkFaultTest, TheWriteIsAppliedAndTheReplyIsLost) {
    const auto [c, reused] = GetParam();
    auto cred = credential("highlevel");
    auto r = post_under_fault(cred, reused);
    const std::string action = c.action;
    EXPECT_EQ(r.status, 0) << action << " answered " << r.status << " " << r.body;
    EXPECT_NE(r.error.find(c.expected_error), std::string::npos) << action << ": " << r.error;
    // Applied exactly once, whatever the client saw; the log says no answer was given.
    EXPECT_EQ(fake->records(cred, "people").size(), action == "reset_before_handle" ? 0u : 1u) << action;
    // No complete answer: the log shows none (a cut-off reply logs the status its header carried).
    EXPECT_EQ(fake->requests().back().status, action == "truncated_body" ? 201u : 0u);
    // The rule fired once and only for the connection kind it names.
    EXPECT_TRUE(fake->state().at("faults").as_array().empty());
}

INSTANTIATE_TEST_SUITE_P(
    FreshAndReused, NetworkFaultTest,
    ::testing::Combine(::testing::Values(Case{"reset_after_write", "read"}, Case{"half_close_after_write", "read"},
                                         Case{"timeout_after_write", "read"}, Case{"truncated_body", "read"},
                                         Case{"reset_before_handle", "read"}),
                       ::testing::Bool()),
    [](const auto& info) {
        return std::string(std::get<0>(info.param).action) + (std::get<1>(info.param) ? "_reused" : "_fresh");
    });

TEST_F(FakeTest, ReusedConnectionMatchSkipsTheFirstRequestOfAConnection) {
    auto cred = credential("lofty");
    control("POST", "/faults", R"({"match":{"method":"POST","reusedConnection":true},"action":"reset_after_write"})");
    // One request per connection: never reused, so the rule does not fire.
    EXPECT_EQ(crm("POST", "/people", cred, kPerson).status, 201);
    EXPECT_EQ(fake->state().at("faults").as_array().size(), 1u);
    auto list = control("GET", "/faults").json().as_array();
    EXPECT_TRUE(list[0].at("match").at("reusedConnection").as_bool());
}

TEST_F(FakeTest, Html5xxPageIsSentVerbatimWithItsContentType) {
    control("POST", "/faults",
            R"({"action":"status","status":502,"body":"<html><body>502 Bad Gateway</body></html>","contentType":"text/html"})");
    auto r = api("GET", "/platform/api/connectors");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.headers["content-type"], "text/html");
    EXPECT_EQ(r.body, "<html><body>502 Bad Gateway</body></html>");
    EXPECT_EQ(control("POST", "/faults", R"({"action":"status","status":500,"contentType":5})").status, 400);
    EXPECT_EQ(control("POST", "/faults", R"({"action":"reset_after_write","match":{"reusedConnection":"yes"}})").status,
              400u);
}

}  // namespace rollout_mcp::fake::test
