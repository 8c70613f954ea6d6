// Scheduling under a backlog (issue 4 "Proof"): 10,000 jobs across 10 teams drain fairly within the
// in-flight caps, jobs on the same CRM record never overlap, and memory stays bounded. The attempts are a
// stand-in runner (1 ms each) so the test measures the scheduler and the real SQLite outbox, not the fake.
#include "sync_harness.hpp"
#include "support/http_client.hpp"   // rss_kib

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <set>

namespace rollout_mcp::sync_test {
namespace {
namespace asio = boost::asio;

struct Tracker {
    std::mutex mu;
    std::map<std::string, int> team_now, team_peak;
    std::set<std::string> locks_now;
    int in_flight = 0, peak = 0, overlaps = 0;
    std::vector<std::string> finished;   // tenant of each finished attempt, in order
};

#if defined(ROLLOUT_MCP_SANITIZED)
// Under the sanitizers the same shape with a 1,100-job big team (2,000 jobs in all): the scheduler's memory safety
// under a backlog in a fifth of the time (the 10,000 took three minutes there); the release run keeps the 10,000.
constexpr int kBigTeamJobs = 1'100;
#else
constexpr int kBigTeamJobs = 9'100;
#endif
constexpr int kAllJobs = kBigTeamJobs + 9 * 100;

TEST(OutboxFairness, TenThousandJobsAcrossTenTeamsDrainFairly) {
    // The scheduler and the fair due list are the same SQL on both engines; PostgreSQL at scale is
    // multi_instance.shared_postgresql's (3,800 jobs, three instances, kills), which keeps CI inside its budget.
    if (rollout_mcp::test::testing_postgresql()) GTEST_SKIP() << "runs on SQLite; PostgreSQL at scale: tests/multi_instance";
    auto tracker = std::make_shared<Tracker>();
    Harness::Options o;
    o.start_fake = false;
    o.sync.max_in_flight = 16;
    o.sync.per_team_in_flight = 4;
    o.sync.per_crm_in_flight = 4;
    o.runner = [tracker](const storage::ClaimedJob& job) -> asio::awaitable<AttemptResult> {
        const auto lock_key = job.info.tenant_id + "/" + job.info.lock_key;
        {
            std::lock_guard lock(tracker->mu);
            tracker->peak = std::max(tracker->peak, ++tracker->in_flight);
            auto& n = tracker->team_now[job.info.tenant_id];
            tracker->team_peak[job.info.tenant_id] = std::max(tracker->team_peak[job.info.tenant_id], ++n);
            if (!tracker->locks_now.insert(lock_key).second) ++tracker->overlaps;
        }
        asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
        co_await pause.async_wait(asio::use_awaitable);
        {
            std::lock_guard lock(tracker->mu);
            --tracker->in_flight;
            --tracker->team_now[job.info.tenant_id];
            tracker->locks_now.erase(lock_key);
            tracker->finished.push_back(job.info.tenant_id);
        }
        co_return AttemptResult{};
    };
    Harness h(o);

    // One big team (9,100 jobs) and nine small ones (100 each), all queued before the workers start.
    std::vector<std::string> teams;
    for (int t = 0; t < 10; ++t) teams.push_back(h.add_team("team" + std::to_string(t)));
    const auto rss_before = static_cast<long>(test::rss_kib());
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    for (int t = 0; t < 10; ++t) {
        const int jobs = t == 0 ? kBigTeamJobs : 100;
        for (int first = 0; first < jobs; first += 64) {
            storage::SyncRequest request;
            request.tenant_id = teams[t];
            for (int i = first; i < std::min(jobs, first + 64); ++i) {
                const auto id = "T" + std::to_string(i);
                request.jobs.push_back({"highlevel", "tour", id, id, "buyer" + std::to_string(i % 20), "{}"});
            }
            auto r = h.on_storage([request, now](storage::Storage& s) { return s.enqueue_sync(request, now); });
            ASSERT_TRUE(r) << r.error().message;
        }
    }
    const auto started = std::chrono::steady_clock::now();
    h.start();
    const auto deadline = started + std::chrono::seconds(300);
    long rss_peak = 0;
    for (;;) {
        rss_peak = std::max(rss_peak, static_cast<long>(test::rss_kib()));
        {
            std::lock_guard lock(tracker->mu);
            if (tracker->finished.size() >= static_cast<std::size_t>(kAllJobs)) break;
        }
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "backlog did not drain in time";
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("[ outbox ] %d jobs drained in %.1f s (%.0f jobs/s), RSS %ld -> peak %ld KiB\n", kAllJobs, seconds,
                kAllJobs / seconds, rss_before, rss_peak);

    std::lock_guard lock(tracker->mu);
    EXPECT_EQ(tracker->overlaps, 0) << "two jobs for the same CRM record ran at once";
    EXPECT_LE(tracker->peak, 16);
    for (const auto& [team, peak] : tracker->team_peak) EXPECT_LE(peak, 4) << team;
    // Round robin: while every team has work each gets about a tenth of the throughput, so the nine small
    // teams (900 jobs) are done long before the big team's backlog is.
    std::map<std::string, std::size_t> last_index;
    for (std::size_t i = 0; i < tracker->finished.size(); ++i) last_index[tracker->finished[i]] = i;
    for (int t = 1; t < 10; ++t) EXPECT_LT(last_index[teams[t]], 1'500u) << "team" << t << " was starved";
    // In the first 500 attempts, every team got a fair share (50 each, give or take the window).
    std::map<std::string, int> early;
    for (std::size_t i = 0; i < 500; ++i) ++early[tracker->finished[i]];
    for (const auto& t : teams) EXPECT_GE(early[t], 30) << t;
#if defined(ROLLOUT_MCP_SANITIZED)
    // AddressSanitizer keeps freed memory in quarantine (and LeakSanitizer checks leaks at exit): RSS says
    // nothing about the backlog's footprint there.
    (void)rss_before;
#else
    EXPECT_LT(rss_peak - rss_before, 64 * 1024) << "memory grew with the backlog";
#endif
    auto stats = h.on_storage([](storage::Storage& s) { return s.outbox_stats(INT64_MAX); });
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->succeeded, kAllJobs);
    EXPECT_EQ(stats->queued + stats->running, 0);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
