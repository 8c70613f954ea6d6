// The outbox against the fake Rollout with injected faults (issue 4 "Proof"): Rollout down then back,
// 429 with Retry-After, a timeout after the write was applied, permanent errors, dead jobs and alerts,
// unchanged payloads, restart re-drive. Every check counts records in the fake: nothing twice.
#include "sync_harness.hpp"

#include "support/wait_for.hpp"

#include "server/app/metrics.hpp"
#include "server/sync/sync_alerts.hpp"
#include "tests/rollout/scripted_rollout.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <mutex>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using storage::JobStatus;
using Clock = std::chrono::steady_clock;

fake::FaultRule fault(std::string path, fake::FaultRule::Action action, int count = 1) {
    fake::FaultRule r;
    r.path_prefix = std::move(path);
    r.action = action;
    r.count = count;
    return r;
}

std::size_t crm_requests(const fake::FakeRollout& f) {
    std::size_t n = 0;
    for (const auto& r : f.requests()) n += r.path.rfind("/crm/api", 0) == 0 ? 1 : 0;
    return n;
}

TEST(OutboxFaults, RolloutDownThenBackDeliversEveryJobOnce) {
    // With full jitter (20..200 ms) twelve attempts can fit in the 800 ms outage: the jobs must outlive it.
    Harness::Options options;
    options.sync.max_attempts = 100;
    Harness h(options);
    const auto team = h.add_team("down-then-back");
    auto down = fault("/crm/api", fake::FaultRule::Action::status, -1);
    down.status = 503;
    h.fake().add_fault(down);
    h.start();
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) {
        auto more = h.enqueue_tour(team, make_tour("T" + std::to_string(i), "buyer" + std::to_string(i)));
        ids.insert(ids.end(), more.begin(), more.end());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(800));   // Rollout is down for a while
    for (const auto& id : ids) EXPECT_NE(h.job(team, id).status, JobStatus::succeeded);
    h.fake().clear_faults();
    int retried = 0;
    for (const auto& id : ids) {
        auto j = h.wait_finished(team, id);
        EXPECT_EQ(j.status, JobStatus::succeeded) << j.last_error;
        retried += j.attempts > 1 ? 1 : 0;
    }
    EXPECT_EQ(retried, 4);
    const auto& cred = h.credential(team, "highlevel");
    EXPECT_EQ(h.fake().records(cred, "people").size(), 4u);
    EXPECT_EQ(h.fake().records(cred, "appointments").size(), 8u);
}

TEST(OutboxFaults, RateLimitWaitsForRetryAfter) {
    Harness h;
    const auto team = h.add_team("rate-limited");
    auto limited = fault("/crm/api/people", fake::FaultRule::Action::rate_limit);
    limited.method = "POST";
    limited.retry_after_seconds = 2;
    h.fake().add_fault(limited);
    // Shared with the listener: the worker may call it after the job's end is visible in the store (the
    // listener runs after the attempt is recorded), even after this test's locals are gone.
    struct Attempts {
        std::mutex mu;
        std::vector<Clock::time_point> at;
        std::size_t count() {
            std::lock_guard lock(mu);
            return at.size();
        }
    };
    auto attempts = std::make_shared<Attempts>();
    auto ids = h.enqueue_tour(team, make_tour("T-429", "b429"));
    const auto watch = h.worker().watch_scoped(ids, [attempts](const storage::SyncJobInfo&) {
        std::lock_guard lock(attempts->mu);
        attempts->at.push_back(Clock::now());
    });
    h.start();
    auto j = h.wait_finished(team, ids[0]);
    ASSERT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    EXPECT_EQ(j.attempts, 2);
    ASSERT_TRUE(test::wait_for([&] { return attempts->count() >= 2; }));
    std::lock_guard lock(attempts->mu);
    ASSERT_EQ(attempts->at.size(), 2u);
    // Backoff alone would retry within 20 ms; Retry-After asked for 2 s.
    EXPECT_GE(attempts->at[1] - attempts->at[0], std::chrono::milliseconds(1'900));
    EXPECT_EQ(h.fake().records(h.credential(team, "highlevel"), "people").size(), 1u);
}

TEST(OutboxFaults, TimeoutAfterTheWriteLandedMakesNoDuplicate) {
    Harness::Options o;
    o.rollout_timeout = std::chrono::milliseconds(1'500);
    Harness h(o);
    const auto team = h.add_team("timeout-after-write");
    auto swallowed = fault("/crm/api/appointments", fake::FaultRule::Action::timeout_after_write);
    swallowed.method = "POST";
    h.fake().add_fault(swallowed);
    h.start();
    auto ids = h.enqueue_tour(team, make_tour("T-timeout", "btimeout", 2));
    auto j = h.wait_finished(team, ids[0]);
    ASSERT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    EXPECT_EQ(j.attempts, 2);
    const auto& cred = h.credential(team, "highlevel");
    EXPECT_EQ(h.fake().records(cred, "people").size(), 1u);
    EXPECT_EQ(h.fake().records(cred, "appointments").size(), 2u);   // the first one was found by its marker
}

TEST(OutboxFaults, UnchangedPayloadMakesNoCrmCall) {
    Harness h;
    const auto team = h.add_team("unchanged");
    h.start();
    auto tour = make_tour("T-same", "bsame");
    auto first = h.enqueue_tour(team, tour);
    ASSERT_EQ(h.wait_finished(team, first[0]).status, JobStatus::succeeded);
    h.fake().clear_requests();
    auto second = h.enqueue_tour(team, tour);
    auto j = h.wait_finished(team, second[0]);
    ASSERT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    EXPECT_EQ(crm_requests(h.fake()), 0u);
    EXPECT_NE(j.result_json.find("\"unchanged\""), std::string::npos) << j.result_json;

    tour["properties"].as_array()[0].as_object()["notes"] = "bring the inspection report";
    auto third = h.enqueue_tour(team, tour);
    j = h.wait_finished(team, third[0]);
    ASSERT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    EXPECT_GT(crm_requests(h.fake()), 0u);
    EXPECT_NE(j.result_json.find("\"updated\""), std::string::npos) << j.result_json;
    const auto& cred = h.credential(team, "highlevel");
    EXPECT_EQ(h.fake().records(cred, "people").size(), 1u);
    EXPECT_EQ(h.fake().records(cred, "appointments").size(), 2u);
}

TEST(OutboxFaults, PermanentErrorFailsAtOnceWithTheCrmMessageAndCanBeRetried) {
    Harness h;
    const auto team = h.add_team("permanent");
    auto invalid = fault("/crm/api/people", fake::FaultRule::Action::status);
    invalid.method = "POST";
    invalid.status = 400;
    invalid.body = R"({"errorMessage":"lastName is required by this CRM"})";
    h.fake().add_fault(invalid);
    h.start();
    auto ids = h.enqueue_tour(team, make_tour("T-400", "b400"));
    auto j = h.wait_finished(team, ids[0]);
    EXPECT_EQ(j.status, JobStatus::failed);
    EXPECT_EQ(j.attempts, 1);
    EXPECT_NE(j.last_error.find("lastName is required by this CRM"), std::string::npos) << j.last_error;
    EXPECT_EQ(j.last_http_status, 400u);

    auto requeued = h.on_storage([team](storage::Storage& s) {
        storage::SyncJobQuery q;
        q.tenant_id = team;
        q.tour_id = "T-400";
        return s.retry_sync_jobs(q, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch()).count());
    });
    ASSERT_TRUE(requeued);
    ASSERT_EQ(requeued->size(), 1u);
    h.worker().wake();
    j = h.wait_finished(team, ids[0]);
    EXPECT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    EXPECT_EQ(h.fake().records(h.credential(team, "highlevel"), "people").size(), 1u);
}

TEST(OutboxFaults, DeadJobLogsCountsAndPostsASignedAlertThatIsRetried) {
    std::atomic<int> hits{0};
    rollout::test::ScriptedRollout hook([&](const rollout::test::RecordedRequest&) {
        return rollout::test::ScriptedReply(++hits == 1 ? 500 : 204, "");
    });
    // The alert sender does not mark its webhook as an operator-trusted destination yet, so the loopback
    // hook is listed like any loopback origin.
    rollout::HttpOptions alert_http;
    alert_http.allowed_origins.push_back(rollout::origin_of(hook.url()).value());
    auto alert_pool = rollout::HttpPool::create(alert_http);
    const std::string key = "whsec-test-key";
    Harness::Options o;
    o.sync.max_attempts = 2;
    o.alerts = std::make_shared<AlertSender>(alert_pool, hook.url() + "/alerts", crypto::SecretBytes::copy_of(key), 5);
    Harness h(o);
    const auto team = h.add_team("dead");
    auto down = fault("/crm/api", fake::FaultRule::Action::status, -1);
    down.status = 503;
    h.fake().add_fault(down);
    const auto dead_before = metrics::registry().render();
    h.start();
    auto ids = h.enqueue_tour(team, make_tour("T-dead", "bdead"));
    auto j = h.wait_finished(team, ids[0]);
    EXPECT_EQ(j.status, JobStatus::dead);
    EXPECT_EQ(j.attempts, 2);
    EXPECT_NE(j.last_error.find("gave up after 2 attempt(s)"), std::string::npos) << j.last_error;

    ASSERT_TRUE(test::wait_for([&] { return hits >= 2; }, std::chrono::seconds(20), std::chrono::milliseconds(20)));
    ASSERT_EQ(hits.load(), 2);
    const auto req = hook.requests().back();
    EXPECT_EQ(req.method, "POST");
    const auto& sig = req.headers.at("x-rollout-mcp-signature");
    const auto t = std::stoll(sig.substr(2, sig.find(',') - 2));
    EXPECT_EQ(sig, alert_signature({reinterpret_cast<const unsigned char*>(key.data()), key.size()}, t, req.body));
    EXPECT_NE(sig, alert_signature({reinterpret_cast<const unsigned char*>("other"), 5}, t, req.body));
    auto body = json::parse(req.body).as_object();
    EXPECT_EQ(body.at("event"), "sync_job_dead");
    EXPECT_EQ(body.at("jobId").as_string(), ids[0]);
    EXPECT_EQ(body.at("tenantId").as_string(), team);
    EXPECT_EQ(req.body.find("bdead@example.com"), std::string::npos);   // no client data in alerts

    // The hook has answered the second POST; the server records the delivery just after, on the storage thread.
    EXPECT_TRUE(test::wait_for([&] {
        auto pending = h.on_storage([](storage::Storage& s) { return s.pending_alerts(INT64_MAX, 10); });
        return pending && pending->empty();
    }, std::chrono::seconds(20), std::chrono::milliseconds(20)));
    const auto text = metrics::registry().render();
    EXPECT_NE(text.find("rollout_mcp_sync_jobs_dead_total{crm=\"highlevel\"}"), std::string::npos);
    EXPECT_NE(text.find("rollout_mcp_alert_deliveries_total{result=\"delivered\"}"), std::string::npos);
    alert_pool->close_idle();
}

TEST(OutboxFaults, JobInterruptedByAStopIsRedrivenOnceAfterRestart) {
    Harness h;
    const auto team = h.add_team("restart");
    auto ids = h.enqueue_tour(team, make_tour("T-restart", "brestart"));
    // A previous process claimed it and died mid-attempt. SQLite: its lease is far in the future, and the next
    // start re-queues whatever was running. PostgreSQL: a running job may be another live instance's, so a dead
    // instance's job is taken back once its lease expires (here, a millisecond after the claim).
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
    const bool pg = rollout_mcp::test::testing_postgresql();
    const std::int64_t claim_at = pg ? now_ms : INT64_MAX / 4, lease_until = pg ? now_ms + 1 : INT64_MAX / 2;
    auto claimed = h.on_storage(
        [ids, claim_at, lease_until](storage::Storage& s) { return s.claim_sync_jobs(ids, claim_at, lease_until); });
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 1u);
    h.start();   // re-queues interrupted jobs with recover set
    auto j = h.wait_finished(team, ids[0]);
    EXPECT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    EXPECT_EQ(j.attempts, 2);
    const auto& cred = h.credential(team, "highlevel");
    EXPECT_EQ(h.fake().records(cred, "people").size(), 1u);
    EXPECT_EQ(h.fake().records(cred, "appointments").size(), 2u);
}

TEST(OutboxFaults, RemovedConnectionFailsWithAClearMessage) {
    Harness h;
    const auto team = h.add_team("removed");
    auto ids = h.enqueue_tour(team, make_tour("T-gone", "bgone"));
    ASSERT_TRUE(h.on_storage([team](storage::Storage& s) { return s.delete_crm_connection(team, "highlevel"); }));
    h.start();
    auto j = h.wait_finished(team, ids[0]);
    EXPECT_EQ(j.status, JobStatus::failed);
    EXPECT_NE(j.last_error.find("no longer connected"), std::string::npos) << j.last_error;
}

}  // namespace
}  // namespace rollout_mcp::sync_test
