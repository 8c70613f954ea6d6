// subscriptions/listen streams across instances (docs/ARCHITECTURE.md, "Several instances"): a task's change wakes
// its watchers at once, through an in-process signal when this instance makes it (both engines) and through
// LISTEN/NOTIFY when another instance on the same PostgreSQL does; a tool-list change crosses instances once; another
// team's stream hears nothing; a change whose notification was lost in a listener gap is still reported. "At once"
// means well before the watchers' safety poll (20 s): every bound here is 8 s.
#include "listen_instance.hpp"

#include "server/tools/sync_tasks.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr auto kPrompt = 8s;   // well under the 20 s safety poll

// A worker that never claims: "this" instance only watches, another one runs the jobs.
Harness::Options watching_only() {
    Harness::Options o;
    o.sync.max_in_flight = 0;
    return o;
}

// "Another instance": the same database, a worker whose attempts succeed at once.
Harness::Options other_instance_of(const Harness& h) {
    Harness::Options o;
    o.start_fake = false;
    o.share_database_of = &h;
    o.runner = [](const storage::ClaimedJob&) -> boost::asio::awaitable<AttemptResult> {
        AttemptResult r;
        r.result_json = "[]";
        co_return r;
    };
    return o;
}

json::array ids(const std::string& id) { return json::array{json::string(id)}; }

// The team's one job.
storage::SyncJobInfo only_job(Harness& h, const std::string& team) {
    auto jobs = h.on_storage([team](storage::Storage& s) {
        storage::SyncJobQuery q;
        q.tenant_id = team;
        return s.find_sync_jobs(q);
    });
    if (!jobs || jobs->size() != 1) throw std::runtime_error("expected one job");
    return jobs->front();
}

using Clock = std::chrono::steady_clock;

TEST(ListenInstances, ThisInstancesAttemptWakesTheStreamAtOnce) {
    Harness h;
    const auto team = h.add_team("a");
    ListenInstance a(h);
    const auto task = a.start_task(team, "T1");
    ListenStream stream(a.port(), a.key_for(team), false, ids(task));
    ASSERT_TRUE(stream.until_status(task, "working", 5s)) << "the first round reports the task as it is";
    const auto t0 = Clock::now();
    h.start();   // this instance's worker runs the job against the fake Rollout
    ASSERT_TRUE(stream.until_status(task, "completed", kPrompt));
    EXPECT_LT(Clock::now() - t0, kPrompt);
}

TEST(ListenInstances, ACancelWakesTheStreamAtOnce) {
    Harness h(watching_only());
    const auto team = h.add_team("a");
    ListenInstance a(h);
    const auto task = a.start_task(team, "T2");
    ListenStream stream(a.port(), a.key_for(team), false, ids(task));
    ASSERT_TRUE(stream.until_status(task, "working", 5s));
    h.start();
    auto backend = make_sync_task_backend(SyncToolsDeps{&h.team(), &h.worker(), 0ms, std::chrono::hours(1), nullptr},
                                          std::chrono::hours(1));
    const auto t0 = Clock::now();
    ASSERT_TRUE(boost::asio::co_spawn(h.io(), backend->cancel(team, task), boost::asio::use_future).get());
    ASSERT_TRUE(stream.until_status(task, "cancelled", kPrompt));
    EXPECT_LT(Clock::now() - t0, kPrompt);
}

// Instance A only watches; instance B, on the same PostgreSQL database, runs the job.
TEST(ListenInstances, AStreamHearsATaskAnotherInstanceFinishedAndAnotherTeamHearsNothing) {
    if (!rollout_mcp::test::testing_postgresql()) GTEST_SKIP() << "several instances share a PostgreSQL database";
    Harness h(watching_only());
    const auto team = h.add_team("a");
    const auto other = h.add_team("b");
    ListenInstance a(h);
    h.start();
    const auto task = a.start_task(team, "T3");
    ListenStream mine(a.port(), a.key_for(team), false, ids(task));
    ListenStream theirs(a.port(), a.key_for(other), true, ids(task));
    EXPECT_TRUE(theirs.acknowledged().at("notifications").at("taskIds").as_array().empty()) << "not their task";
    ASSERT_TRUE(mine.until_status(task, "working", 5s));
    Harness b(other_instance_of(h));
    const auto t0 = Clock::now();
    b.start();
    ASSERT_TRUE(mine.until_status(task, "completed", kPrompt)) << "B's attempt reached A through NOTIFY";
    EXPECT_LT(Clock::now() - t0, kPrompt);
    EXPECT_EQ(only_job(b, team).status, storage::JobStatus::succeeded);
    EXPECT_EQ(only_job(b, team).attempts, 1) << "B ran it, A never claimed it";
    // Only task notifications count: the stream also takes tools/list_changed, which any instance on the database
    // may announce (another test's, running at the same time) and a listener gap sends to every stream.
    const auto deadline = Clock::now() + 1s;
    while (Clock::now() < deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        const auto heard = theirs.next(left);
        if (!heard) break;
        EXPECT_NE(heard->at("method"), "notifications/tasks")
            << "another team's stream hears nothing of it, yet heard " << boost::json::serialize(*heard);
    }
}

TEST(ListenInstances, AToolListChangeReachesEveryInstancesStreamsOnce) {
    if (!rollout_mcp::test::testing_postgresql()) GTEST_SKIP() << "several instances share a PostgreSQL database";
    Harness h;
    const auto team = h.add_team("a");
    Harness other(other_instance_of(h));
    ListenInstance a(h);
    ListenInstance b(other);
    ListenStream on_a(a.port(), a.key_for(team), true, {});
    ListenStream on_b(b.port(), b.key_for(team), true, {});
    b.hub().tools_list_changed();
    for (auto* s : {&on_a, &on_b}) {
        auto n = s->next(kPrompt);
        ASSERT_TRUE(n);
        EXPECT_EQ(n->at("method"), "notifications/tools/list_changed");
        EXPECT_EQ(n->at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId"), "L");
    }
    a.hub().tools_list_changed();
    for (auto* s : {&on_a, &on_b}) {
        auto n = s->next(kPrompt);
        ASSERT_TRUE(n);
        EXPECT_EQ(n->at("method"), "notifications/tools/list_changed");
    }
    EXPECT_FALSE(on_a.next(1s)) << "an instance does not deliver its own announcement twice";
    EXPECT_FALSE(on_b.next(1s));
}

// A change whose notification never reached A (made with no NOTIFY at all, as if sent while A's listener was
// away) is reported once A's listener reconnects, long before the safety poll.
TEST(ListenInstances, AChangeLostInAListenerGapIsStillReported) {
    if (!rollout_mcp::test::testing_postgresql()) GTEST_SKIP() << "the listener is PostgreSQL's";
    Harness h(watching_only());
    const auto team = h.add_team("a");
    ListenInstance a(h);
    h.start();
    const auto task = a.start_task(team, "T4");
    ListenStream stream(a.port(), a.key_for(team), false, ids(task));
    ASSERT_TRUE(stream.until_status(task, "working", 5s));
    const auto job = only_job(h, team).id;
    auto db = h.database().raw();
    db->exec(("UPDATE sync_jobs SET status = 'succeeded', attempts = 1, finished_at = updated_at + 1,"
              " updated_at = updated_at + 1, result = '[]' WHERE id = '" + job + "'").c_str());
    EXPECT_FALSE(stream.next(1s)) << "nothing told A: only the safety poll or a gap re-read can find it";
    const auto t0 = Clock::now();
    db->exec(("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = '" +
              a.listener_name() + "'").c_str());
    ASSERT_TRUE(stream.until_status(task, "completed", kPrompt)) << "the reconnect re-read every watched task";
    EXPECT_LT(Clock::now() - t0, kPrompt);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
