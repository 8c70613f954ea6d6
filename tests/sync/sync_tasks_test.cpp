// Syncs as MCP tasks against the fake Rollout: a task answered before any attempt, followed by tasks/get to the
// very result the call returns in line; cancel before the first attempt; retry_sync under a new task while the
// old one stays as it ended; another team's key learns nothing; and the caller's W3C trace context reaches every
// Rollout call of the task's jobs.
#include "sync_harness.hpp"

#include "server/tools/rollout_tools.hpp"
#include "server/tools/sync_tasks.hpp"
#include "support/wait_for.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;

class SyncTasks : public ::testing::Test {
protected:
    SyncTasks() {
        SyncToolsDeps deps{&h.team(), &h.worker(), std::chrono::milliseconds(0), std::chrono::hours(1),
                           std::make_shared<const std::string>(32, 'k')};
        register_sync_tools(tools, deps);
        register_sync_status_tools(tools, deps);
        backend = make_sync_task_backend(deps, std::chrono::hours(1));
        info.sessionless = true;
        info.tasks = true;
    }
    mcp::TaskSnapshot get(const std::string& tenant, const std::string& id) {
        auto f = boost::asio::co_spawn(h.io(), backend->get(tenant, id), boost::asio::use_future);
        auto r = f.get();
        if (!r) throw std::runtime_error(r.error().message);
        return *r;
    }
    bool gone(const std::string& tenant, const std::string& id) {
        auto f = boost::asio::co_spawn(h.io(), backend->get(tenant, id), boost::asio::use_future);
        auto r = f.get();
        return !r && r.error().code == mcp::task_not_found().code;
    }
    void cancel(const std::string& tenant, const std::string& id) {
        auto f = boost::asio::co_spawn(h.io(), backend->cancel(tenant, id), boost::asio::use_future);
        ASSERT_TRUE(f.get());
    }
    std::string start_task(const std::string& tenant, const std::string& tour) {
        auto r = call_tool(h, tools, tenant, "sync_tour_data", json::object{{"tourData", make_tour(tour, "b-" + tour, 1)}}, info);
        EXPECT_EQ(r.at("resultType"), "task") << json::serialize(r);
        return std::string(r.at("taskId").as_string());
    }

    Harness h;   // the worker starts when a test says so
    ToolRegistry tools;
    std::shared_ptr<mcp::TaskBackend> backend;
    CallInfo info;
};

TEST_F(SyncTasks, ATaskIsWorkingUntilItsJobsEndThenCarriesTheInlineResult) {
    const auto team = h.add_team("a", {"highlevel", "lofty"});
    const auto other = h.add_team("b");
    info.trace = {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "congo=t61rcWkgMzE"};
    const auto id = start_task(team, "T1");
    EXPECT_EQ(get(team, id).status, mcp::TaskStatus::working) << "nothing has run yet";
    EXPECT_TRUE(gone(other, id)) << "another team's key: no such task";
    h.start();
    ASSERT_TRUE(rollout_mcp::test::wait_for([&] { return get(team, id).status != mcp::TaskStatus::working; }, std::chrono::seconds(20)));
    auto done = get(team, id);
    ASSERT_EQ(done.status, mcp::TaskStatus::completed);
    EXPECT_EQ(done.result.at("structuredContent").at("status"), "success");
    EXPECT_EQ(done.result.at("structuredContent").at("results").as_array().size(), 2u);
    EXPECT_FALSE(done.result.contains("isError"));
    // Every Rollout call of the task's jobs carried the caller's trace context.
    std::size_t traced = 0;
    for (const auto& r : h.fake().requests()) {
        if (r.path.rfind("/crm/", 0) != 0) continue;
        EXPECT_EQ(r.headers.count("traceparent") ? r.headers.at("traceparent") : "", info.trace.traceparent) << r.path;
        EXPECT_EQ(r.headers.count("tracestate") ? r.headers.at("tracestate") : "", info.trace.tracestate) << r.path;
        ++traced;
    }
    EXPECT_GT(traced, 2u);
}

TEST_F(SyncTasks, CancelBeforeTheFirstAttemptThenRetryUnderANewTask) {
    const auto team = h.add_team("a");
    const auto id = start_task(team, "T2");
    cancel(team, id);
    auto cancelled = get(team, id);
    EXPECT_EQ(cancelled.status, mcp::TaskStatus::cancelled);
    auto retried = call_tool(h, tools, team, "retry_sync", json::object{{"tourId", "T2"}}, info);
    ASSERT_EQ(retried.at("resultType"), "task") << json::serialize(retried);
    const std::string second(retried.at("taskId").as_string());
    EXPECT_NE(second, id);
    h.start();
    ASSERT_TRUE(rollout_mcp::test::wait_for([&] { return get(team, second).status == mcp::TaskStatus::completed; },
                                            std::chrono::seconds(20)));
    EXPECT_EQ(get(team, second).result.at("structuredContent").at("status"), "success");
    EXPECT_EQ(get(team, id).status, mcp::TaskStatus::cancelled) << "a finished task is never reopened";
    cancel(team, id);   // idempotent on a finished task
    EXPECT_EQ(get(team, id).status, mcp::TaskStatus::cancelled);
}

TEST_F(SyncTasks, AnIdempotentReplayAnswersWithTheFirstCallsTask) {
    const auto team = h.add_team("a");
    const auto other = h.add_team("b");
    json::object args{{"tourData", make_tour("T4", "b4", 1)}, {"idempotencyKey", "k-1"}};
    auto first = call_tool(h, tools, team, "sync_tour_data", args, info);
    auto again = call_tool(h, tools, team, "sync_tour_data", args, info);
    ASSERT_EQ(first.at("resultType"), "task") << json::serialize(first);
    EXPECT_EQ(again.at("taskId"), first.at("taskId")) << "one task per call, however often it is replayed";
    // The same key in another team is another call: another task, and it does not see the first.
    auto theirs = call_tool(h, tools, other, "sync_tour_data", args, info);
    EXPECT_NE(theirs.at("taskId"), first.at("taskId"));
    EXPECT_TRUE(gone(other, std::string(first.at("taskId").as_string())));
    // Without a key every call is its own task.
    json::object plain{{"tourData", make_tour("T5", "b5", 1)}};
    EXPECT_NE(call_tool(h, tools, team, "sync_tour_data", plain, info).at("taskId"),
              call_tool(h, tools, team, "sync_tour_data", plain, info).at("taskId"));
}

TEST_F(SyncTasks, WithoutTheExtensionTheCallAnswersInLine) {
    const auto team = h.add_team("a");
    auto r = call_tool(h, tools, team, "sync_tour_data", json::object{{"tourData", make_tour("T3", "b3", 1)}});
    EXPECT_FALSE(r.contains("resultType") && r.at("resultType") == "task");
    EXPECT_EQ(r.at("structuredContent").at("status"), "queued");
}

}  // namespace
}  // namespace rollout_mcp::sync_test
