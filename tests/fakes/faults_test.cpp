// Tests of fault injection in the fake Rollout: latency (global and per rule), injected statuses, 429 with and
// without Retry-After, 409 not-ready, 401 auth expiry, timeout_after_write (stored, never answered), matching.
#include "fake_test.hpp"

#include <future>
#include <thread>

namespace rollout_mcp::fake::test {
namespace json = boost::json;
using namespace std::chrono_literals;

TEST_F(FakeTest, LatencyRuleDelaysMatchingRequestsOnly) {
    auto cred = credential("highlevel");
    auto f = control("POST", "/faults", R"({"match":{"pathPrefix":"/crm/api/people"},"action":"latency","ms":250})");
    ASSERT_EQ(f.status, 201) << f.body;
    EXPECT_EQ(f.json().at("count").as_int64(), -1);
    auto slow = crm("GET", "/people", cred);
    EXPECT_EQ(slow.status, 200);
    EXPECT_GE(slow.elapsed, 250ms);
    auto fast = crm("GET", "/notes", cred);
    EXPECT_EQ(fast.status, 200);
    EXPECT_LT(fast.elapsed, 200ms);
    EXPECT_GE(crm("GET", "/people", cred).elapsed, 250ms);   // unlimited by default
    EXPECT_EQ(control("DELETE", "/faults").status, 200);
    EXPECT_LT(crm("GET", "/people", cred).elapsed, 200ms);
}

TEST(FakeGlobalLatency, AppliesToEveryRolloutAnswerButNotTheControlApi) {
    Options o;
    o.latency = 200ms;
    FakeRollout fake(o);
    fake.start();
    CallOptions auth;
    auth.headers.emplace_back("Authorization", "Bearer " + fake.mint_jwt("t"));
    auto r = call(fake.port(), "GET", "/platform/api/connectors", {}, auth);
    EXPECT_EQ(r.status, 200);
    EXPECT_GE(r.elapsed, 200ms);
    EXPECT_LT(call(fake.port(), "GET", "/_fake/state").elapsed, 150ms);
}

TEST_F(FakeTest, StatusFaultAnswersInsteadOfTheHandlerForCountRequests) {
    auto cred = credential("highlevel");
    FaultRule rule;
    rule.method = "POST";
    rule.path_prefix = "/crm/api/people";
    rule.action = FaultRule::Action::status;
    rule.status = 503;
    rule.body = R"({"errorMessage":"upstream down"})";
    rule.count = 2;
    fake->add_fault(rule);
    const std::string body = R"({"firstName":"A","lastName":"B"})";
    EXPECT_EQ(crm("GET", "/people", cred).status, 200);   // method does not match
    for (int i = 0; i < 2; ++i) {
        auto r = crm("POST", "/people", cred, body);
        EXPECT_EQ(r.status, 503);
        EXPECT_EQ(r.json().at("errorMessage").as_string(), "upstream down");
    }
    EXPECT_EQ(fake->records(cred, "people").size(), 0u);   // nothing applied
    EXPECT_EQ(crm("POST", "/people", cred, body).status, 201);
    EXPECT_TRUE(fake->state().at("faults").as_array().empty());   // used up

    // Over HTTP: a verbatim (invalid JSON) body and the default count of 1.
    control("POST", "/faults", R"({"action":"status","status":502,"body":"<html>bad gateway"})");
    auto bad = api("GET", "/platform/api/connectors");
    EXPECT_EQ(bad.status, 502);
    EXPECT_EQ(bad.body, "<html>bad gateway");
    EXPECT_EQ(api("GET", "/platform/api/connectors").status, 200);
}

TEST_F(FakeTest, RateLimitCarriesRetryAfterWhenGiven) {
    control("POST", "/faults", R"({"action":"rate_limit","retryAfterSeconds":7})");
    auto r = api("GET", "/platform/api/connectors");
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.headers["retry-after"], "7");
    EXPECT_TRUE(r.json().at("errorMessage").is_string());
    control("POST", "/faults", R"({"action":"rate_limit"})");   // the documented case: no header
    auto bare = api("GET", "/platform/api/connectors");
    EXPECT_EQ(bare.status, 429);
    EXPECT_EQ(bare.headers.count("retry-after"), 0u);
    EXPECT_EQ(api("GET", "/platform/api/connectors").status, 200);
    auto log = fake->requests();
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(log[0].status, 429);
}

TEST_F(FakeTest, NotReadyAndAuthExpiredFaults) {
    auto cred = credential("lofty");
    control("POST", "/faults", R"({"match":{"credentialId":")" + cred + R"("},"action":"not_ready","count":2})");
    control("POST", "/faults", R"({"match":{"pathPrefix":"/platform/"},"action":"auth_expired"})");
    EXPECT_EQ(crm("GET", "/people", cred).json().at("errorMessage").as_string(),
              "Data for this credential is not ready yet. Please try again.");
    EXPECT_EQ(crm("GET", "/people", cred).status, 409);
    EXPECT_EQ(crm("GET", "/people", cred).status, 200);
    auto expired = api("GET", "/platform/api/credentials");
    EXPECT_EQ(expired.status, 401);
    EXPECT_EQ(expired.json().at("errorMessage").as_string(), "Unauthorized: JWT expired");
    EXPECT_EQ(api("GET", "/platform/api/credentials").status, 200);
}

TEST_F(FakeTest, CredentialMatchSeparatesCrms) {
    auto ghl = credential("highlevel");
    auto lofty = credential("lofty");
    control("POST", "/faults", R"({"match":{"credentialId":")" + lofty + R"("},"action":"status","status":500,"count":-1})");
    EXPECT_EQ(crm("POST", "/people", lofty, R"({"firstName":"A","lastName":"B"})").status, 500);
    EXPECT_EQ(crm("POST", "/people", ghl, R"({"firstName":"A","lastName":"B"})").status, 201);
    EXPECT_EQ(crm("GET", "/people", lofty).status, 500);
}

TEST_F(FakeTest, TimeoutAfterWriteStoresTheRecordButNeverAnswers) {
    auto cred = credential("highlevel");
    control("POST", "/faults", R"({"match":{"method":"POST","pathPrefix":"/crm/api/people"},"action":"timeout_after_write"})");
    CallOptions o;
    o.timeout = 600ms;
    auto r = crm("POST", "/people", cred, R"({"firstName":"Ann","lastName":"Buyer"})", o);
    EXPECT_TRUE(r.timed_out) << r.error;
    EXPECT_EQ(r.status, 0);
    EXPECT_GE(r.elapsed, 600ms);
    auto people = fake->records(cred, "people");
    ASSERT_EQ(people.size(), 1u);   // the write was applied
    EXPECT_EQ(people[0].at("firstName").as_string(), "Ann");
    EXPECT_EQ(fake->requests().back().status, 0);
    // The retry (count used up) answers normally; a client doing marker look-ups would find the first one.
    EXPECT_EQ(crm("POST", "/people", cred, R"({"firstName":"Ann","lastName":"Buyer"})").status, 201);
    EXPECT_EQ(crm("GET", "/people", cred).json().at("_metadata").at("total").as_int64(), 2);
}

TEST_F(FakeTest, BadFaultRulesAreRefused) {
    EXPECT_EQ(control("POST", "/faults", R"({})").status, 400);
    EXPECT_EQ(control("POST", "/faults", R"({"action":"explode"})").status, 400);
    EXPECT_EQ(control("POST", "/faults", R"({"action":"latency"})").status, 400);
    EXPECT_EQ(control("POST", "/faults", R"({"action":"status","status":42})").status, 400);
    EXPECT_EQ(control("POST", "/faults", R"({"action":"status","status":500,"count":0})").status, 400);
    EXPECT_EQ(control("POST", "/faults", R"({"action":"not_ready","match":{"method":5}})").status, 400);
    auto ok = control("POST", "/faults", R"({"action":"not_ready","match":{"method":"get"}})");
    ASSERT_EQ(ok.status, 201);
    auto list = control("GET", "/faults").json().as_array();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].at("action").as_string(), "not_ready");
    EXPECT_EQ(list[0].at("match").at("method").as_string(), "get");
}

TEST_F(FakeTest, StopClosesAHeldConnection) {
    auto cred = credential("highlevel");
    control("POST", "/faults", R"({"action":"timeout_after_write"})");
    CallOptions o;
    o.timeout = 5000ms;
    auto pending = std::async(std::launch::async, [&] { return crm("GET", "/people", cred, {}, o); });
    std::this_thread::sleep_for(300ms);
    fake->stop();
    ASSERT_EQ(pending.wait_for(3s), std::future_status::ready);
    auto r = pending.get();
    EXPECT_EQ(r.status, 0);
    EXPECT_FALSE(r.timed_out) << r.error;   // closed by the server, not by the client's deadline
}

}  // namespace rollout_mcp::fake::test
