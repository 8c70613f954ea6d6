// Several instances on one PostgreSQL database (docs/ARCHITECTURE.md, "Several instances"): a tool call waiting on
// this instance hears of an attempt another instance recorded, through LISTEN/NOTIFY; two instances' alert loops
// post each dead job's alert once, and one held by an instance that died is posted after its claim's lease.
#include "sync_harness.hpp"

#include "server/sync/outbox_notifications.hpp"
#include "server/sync/sync_alerts.hpp"
#include "support/wait_for.hpp"
#include "tests/rollout/scripted_rollout.hpp"
#include "storage/postgres_listener.hpp"
#include "storage/sql_storage.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <future>
#include <map>
#include <mutex>

namespace rollout_mcp::sync_test {
namespace {

TEST(SharedInstances, AWaiterHearsOfAnAttemptAnotherInstanceRecorded) {
    if (!rollout_mcp::test::testing_postgresql()) GTEST_SKIP() << "several instances share a PostgreSQL database";
    Harness h;
    const auto team = h.add_team("shared");
    const auto ids = h.enqueue_tour(team, make_tour("T-shared", "bshared"));
    // "Another instance" claims the job before this one's worker starts, and finishes it later (the test plays it
    // through the same database; this worker never runs the job: its lease stays live).
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
    auto claimed = h.on_storage([ids, now_ms](storage::Storage& s) { return s.claim_sync_jobs(ids, now_ms, now_ms + 600'000); });
    ASSERT_TRUE(claimed && claimed->size() == 1);
    h.start();
    auto listener = storage::PgListener::start(h.database().url(), [&h](std::string_view channel, std::string_view payload) {
        hear_outbox_notification(h.worker(), channel, payload);
    });
    std::promise<storage::SyncJobInfo> heard;
    auto future = heard.get_future();
    std::once_flag once;
    auto watch = h.worker().watch_scoped(ids, [&](const storage::SyncJobInfo& info) {
        std::call_once(once, [&] { heard.set_value(info); });
    });
    const auto token = claimed->front().claim_token;
    storage::AttemptOutcome done;
    done.result_json = "[]";
    ASSERT_TRUE(h.on_storage([&ids, token, done, now_ms](storage::Storage& s) {
        return s.finish_sync_attempt(ids[0], token, done, now_ms + 1'000);
    }));
    ASSERT_EQ(future.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    const auto info = future.get();
    EXPECT_EQ(info.id, ids[0]);
    EXPECT_EQ(info.status, storage::JobStatus::succeeded);
    EXPECT_EQ(info.attempts, 1);   // this worker never ran it
    watch.reset();   // unwatched
}

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A webhook that counts posts per job, and one alert sender per instance (each its own pool, as in `serve`).
struct CountingHook {
    CountingHook()
        : hook([this](const rollout::test::RecordedRequest& r) {
              const auto body = boost::json::parse(r.body);
              std::lock_guard lock(mu);
              ++posts[std::string(body.at("jobId").as_string())];
              return rollout::test::ScriptedReply(204, "");
          }) {}
    std::shared_ptr<AlertSender> sender() {
        rollout::HttpOptions http;
        http.allowed_origins.push_back(rollout::origin_of(hook.url()).value());
        pools.push_back(rollout::HttpPool::create(http));
        return std::make_shared<AlertSender>(pools.back(), hook.url() + "/alerts", crypto::SecretBytes::copy_of(std::string_view("k")), 5);
    }
    std::map<std::string, int> counts() {
        std::lock_guard lock(mu);
        return posts;
    }
    // Idle pooled sockets belong to a harness's io_context: close them while it still exists (declare a
    // ClosePools after the harnesses).
    struct ClosePools {
        CountingHook& hook;
        ~ClosePools() {
            for (auto& p : hook.pools) p->close_idle();
        }
    };
    std::mutex mu;
    std::map<std::string, int> posts;
    rollout::test::ScriptedRollout hook;
    std::vector<std::shared_ptr<rollout::HttpPool>> pools;
};

// Dead jobs made directly in the store (claimed and given up), before any worker starts.
std::vector<std::string> dead_jobs(Harness& h, const std::string& team, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        const auto ids = h.enqueue_tour(team, make_tour("T-dead-" + std::to_string(i), "bd" + std::to_string(i)));
        const auto now = wall_ms();
        auto claimed = h.on_storage([ids, now](storage::Storage& s) { return s.claim_sync_jobs(ids, now, now + 600'000); });
        if (!claimed || claimed->size() != 1) throw std::runtime_error("cannot claim");
        storage::AttemptOutcome die;
        die.next = storage::AttemptOutcome::Next::die;
        die.error = "gave up";
        die.result_json = "[]";
        const auto token = claimed->front().claim_token;
        if (!h.on_storage([&ids, token, die, now](storage::Storage& s) { return s.finish_sync_attempt(ids[0], token, die, now); }))
            throw std::runtime_error("cannot finish");
        out.push_back(ids[0]);
    }
    return out;
}

Harness::Options alerting(std::shared_ptr<AlertSender> sender, const Harness* shared = nullptr) {
    Harness::Options o;
    o.sync.max_in_flight = 0;   // these workers only alert
    o.alerts = std::move(sender);
    if (shared) {
        o.start_fake = false;
        o.share_database_of = shared;
    }
    return o;
}

TEST(SharedInstances, TwoInstancesPostEachDeadJobsAlertOnce) {
    if (!rollout_mcp::test::testing_postgresql()) GTEST_SKIP() << "several instances share a PostgreSQL database";
    CountingHook hook;
    Harness a(alerting(hook.sender()));
    const auto team = a.add_team("alerts");
    const auto ids = dead_jobs(a, team, 12);
    Harness b(alerting(hook.sender(), &a));
    const CountingHook::ClosePools closer{hook};
    a.start();
    b.start();
    ASSERT_TRUE(rollout_mcp::test::wait_for([&] { return hook.counts().size() == ids.size(); }, std::chrono::seconds(20)));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));   // ten alert polls of each: room for a duplicate
    for (const auto& id : ids) EXPECT_EQ(hook.counts()[id], 1) << id;
    auto pending = a.on_storage([](storage::Storage& s) { return s.pending_alerts(INT64_MAX, 100); });
    ASSERT_TRUE(pending);
    EXPECT_TRUE(pending->empty());
}

TEST(SharedInstances, AnAlertClaimedByAnInstanceThatDiedIsPostedAfterItsLease) {
    if (!rollout_mcp::test::testing_postgresql()) GTEST_SKIP() << "several instances share a PostgreSQL database";
    CountingHook hook;
    Harness a(alerting(nullptr));
    const auto team = a.add_team("alerts");
    const auto ids = dead_jobs(a, team, 1);
    // "An instance" claims the alert for 1.5 s and dies before posting it.
    const auto now = wall_ms();
    auto held = a.on_storage([now](storage::Storage& s) { return s.claim_alerts(now, now + 1'500, 10); });
    ASSERT_TRUE(held && held->size() == 1);
    Harness b(alerting(hook.sender(), &a));
    const CountingHook::ClosePools closer{hook};
    b.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    EXPECT_TRUE(hook.counts().empty()) << "the claim is still live";
    ASSERT_TRUE(rollout_mcp::test::wait_for([&] { return hook.counts().size() == 1; }, std::chrono::seconds(10)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(hook.counts()[ids[0]], 1);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
