// The per-team Rollout rate gate (server/sync/rollout_rate_gate.hpp) on the real database, SQLite or PostgreSQL:
// two gates over two storage handles (two instances) hammering one team never get more than rate x interval +
// burst between them, and another team is not slowed; a 429 one gate hears holds the other; and end to end
// against the fake Rollout over a real socket, a team at a low rate has its requests spaced while every job still
// succeeds exactly once, and a tool's Rollout calls pass the same gate.
#include "sync_harness.hpp"

#include "server/tools/rollout_tools.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

namespace rollout_mcp::sync_test {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// Two "instances": two storage handles on one database, each with its own gate, on one io_context.
class TwoInstances : public ::testing::Test {
protected:
    void SetUp() override {
        if (const auto why = database.unavailable(); !why.empty()) GTEST_SKIP() << why;
        first = std::make_unique<StorageExecutor>(database.open(master()));
        second = std::make_unique<StorageExecutor>(database.open(master()));
        hammered = first->direct().create_tenant("hammered")->id;
        quiet = first->direct().create_tenant("quiet")->id;
        guard.emplace(io.get_executor());
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    }
    void TearDown() override {
        guard.reset();
        for (auto& t : threads) t.join();
    }
    crypto::MasterKey master() const {
        return crypto::MasterKey{crypto::SecretBytes::copy_of(key.view()), "test master key", {}};
    }
    std::shared_ptr<RolloutRateGate> gate(StorageExecutor& storage, RolloutRateSettings s) {
        return RolloutRateGate::create(io.get_executor(), storage, s);
    }
    Result<void> admit(RolloutRateGate& g, const std::string& team) {
        return asio::co_spawn(io, g.admit(team), asio::use_future).get();
    }
    // Runs `f` on `storage`'s thread after everything queued there before it (its default lane).
    static void drain(StorageExecutor& storage) {
        std::promise<void> done;
        storage.post([&done](storage::Storage&) { done.set_value(); });
        done.get_future().wait();
    }

    rollout_mcp::test::TempDir dir;
    rollout_mcp::test::TestDatabase database{dir.path() / "db.sqlite"};
    crypto::SecretBytes key = crypto::SecretBytes::random(32);
    std::unique_ptr<StorageExecutor> first, second;
    std::string hammered, quiet;
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::vector<std::thread> threads;
};

struct Tally {
    std::atomic<int> sent{0};
    std::atomic<int> refused{0};
};

// Admits requests of `team` until `until`; a refusal (the wait would be too long) backs off a little, like a job.
asio::awaitable<void> hammer(std::shared_ptr<RolloutRateGate> gate, std::string team, Clock::time_point until, Tally* tally) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    while (Clock::now() < until) {
        std::string who = team;
        auto admitted = co_await gate->admit(std::move(who));
        if (admitted) {
            ++tally->sent;
            continue;
        }
        ++tally->refused;
        EXPECT_EQ(admitted.error().code, rollout::ErrorKind::rate_limited);
        pause.expires_after(std::chrono::milliseconds(20));
        co_await pause.async_wait(asio::use_awaitable);
    }
}

TEST_F(TwoInstances, TogetherTheyStayWithinRateTimesIntervalPlusBurstAndAnotherTeamIsNotSlowed) {
    RolloutRateSettings s;
    s.per_second = 20;
    s.burst = 5;
    s.max_wait = std::chrono::milliseconds(300);
    auto one = gate(*first, s), two = gate(*second, s);
    Tally tally;
    const auto start = Clock::now();
    const auto until = start + std::chrono::milliseconds(1'500);
    std::vector<std::future<void>> hammers;
    for (int i = 0; i < 4; ++i) {   // four callers on each instance, as many jobs would be
        hammers.push_back(asio::co_spawn(io, hammer(one, hammered, until, &tally), asio::use_future));
        hammers.push_back(asio::co_spawn(io, hammer(two, hammered, until, &tally), asio::use_future));
    }
    // Meanwhile the quiet team sends its burst through both instances: never delayed, never refused.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(admit(i % 2 ? *two : *one, quiet)) << i;
    for (auto& h : hammers) h.get();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

    // Every token was granted by the one row both instances lease from (a token is spent at most once).
    EXPECT_LE(tally.sent.load(), 20 * elapsed + 5 + 1) << "elapsed " << elapsed << " s";
    EXPECT_GE(tally.sent.load(), 20 * 1.5 / 2) << "the gates let too little through";
    EXPECT_GT(one->counts(hammered).sent, 0u);
    EXPECT_GT(two->counts(hammered).sent, 0u);
    EXPECT_GT(one->counts(hammered).delayed + two->counts(hammered).delayed, 0u);
    for (auto* g : {one.get(), two.get()}) {
        const auto q = g->counts(quiet);
        EXPECT_EQ(q.delayed, 0u);
        EXPECT_EQ(q.refused, 0u);
    }
    EXPECT_EQ(one->counts(quiet).sent + two->counts(quiet).sent, 5u);
    // The hot path: a lease serves several requests (2 tokens each here), not one round trip per request.
    EXPECT_LE(one->counts(quiet).leases + two->counts(quiet).leases, 3u);
}

TEST_F(TwoInstances, A429OneInstanceHearsHoldsTheOtherUntilItsRetryAfter) {
    RolloutRateSettings s;
    s.max_wait = std::chrono::milliseconds(500);
    auto one = gate(*first, s), two = gate(*second, s);
    ASSERT_TRUE(admit(*one, hammered));
    one->rate_limited(hammered, std::chrono::seconds(3));
    drain(*first);   // the pause is in the database
    auto held = admit(*two, hammered);   // the other instance never leased for this team before
    ASSERT_FALSE(held);
    EXPECT_EQ(held.error().code, rollout::ErrorKind::rate_limited);
    ASSERT_TRUE(held.error().retry_after);
    EXPECT_GE(*held.error().retry_after, std::chrono::seconds(2));
    EXPECT_LE(*held.error().retry_after, std::chrono::seconds(4));   // 3 s, and the first token after it
    EXPECT_FALSE(admit(*one, hammered));   // the instance that heard it drops what it held
    EXPECT_TRUE(admit(*two, quiet));       // another team is not paused
    EXPECT_EQ(two->counts(hammered).refused, 1u);
}

// A caller cancelled before its request leases (notifications/cancelled, a closed session: the tool call's
// cancellation slot reaches the gate) still completes the lease it started, so the team's lease is never left
// marked in flight: the team's later requests pass at once instead of waiting and being refused.
TEST_F(TwoInstances, ACancelledCallerNeverLeavesTheTeamsLeaseHanging) {
    RolloutRateSettings s;
    s.max_wait = std::chrono::milliseconds(500);
    auto one = gate(*first, s);
    for (int round = 0; round < 3; ++round) {
        // The caller on an io_context of its own, run on this thread: the cancellation is emitted on the
        // caller's thread, right after the call started and before the gate could answer.
        asio::io_context caller;
        asio::cancellation_signal cancel;
        asio::co_spawn(caller, one->admit(hammered),
                       asio::bind_cancellation_slot(cancel.slot(), [](std::exception_ptr, Result<void>) {}));
        asio::post(caller, [&cancel] { cancel.emit(asio::cancellation_type::all); });
        caller.run();
    }
    drain(*first);
    const auto before = one->counts(hammered).refused;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(admit(*one, hammered)) << i;
    EXPECT_EQ(one->counts(hammered).refused, before);
}

// End to end: the gate wired into TeamRollout as `serve` does, the fake Rollout over loopback.
Harness::Options slow_team_options() {
    Harness::Options o;
    RolloutRateSettings s;
    s.per_second = 10;
    s.burst = 2;
    s.max_wait = std::chrono::milliseconds(400);   // some requests are refused: their jobs retry later
    o.rollout_rate = s;
    return o;
}

TEST(RolloutRate, ATeamAtALowRateHasItsRequestsSpacedAndEveryJobStillSucceedsOnce) {
    Harness h(slow_team_options());
    if (const auto why = h.database().unavailable(); !why.empty()) GTEST_SKIP() << why;
    const auto team = h.add_team("slow");
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        const auto tour = make_tour("T-rate-" + std::to_string(i), "brate" + std::to_string(i), 1);
        for (const auto& id : h.enqueue_tour(team, tour)) ids.push_back(id);
    }
    h.start();
    for (const auto& id : ids) EXPECT_EQ(h.wait_finished(team, id).status, storage::JobStatus::succeeded) << id;

    const auto& cred = h.credential(team, "highlevel");
    EXPECT_EQ(h.fake().records(cred, "people").size(), 3u);
    EXPECT_EQ(h.fake().records(cred, "appointments").size(), 3u);   // one per visit: nothing written twice
    std::vector<Clock::time_point> at;
    for (const auto& r : h.fake().requests())
        if (const auto* sub = r.jwt_claims.if_contains("sub"); sub && sub->is_string() && sub->as_string() == team)
            at.push_back(r.received_at);
    std::sort(at.begin(), at.end());
    ASSERT_GE(at.size(), 9u);
    // Any run of requests fits the bucket: burst + one lease held + rate x span (150 ms for the trip to the fake
    // on a loaded machine); without the gate they would all arrive within a fraction of a second.
    for (std::size_t i = 0; i < at.size(); ++i)
        for (std::size_t j = i; j < at.size(); ++j) {
            const double span = std::chrono::duration<double>(at[j] - at[i]).count();
            EXPECT_LE(static_cast<double>(j - i + 1), 2 + 1 + 10 * (span + 0.15)) << i << ".." << j;
        }
    EXPECT_GT(h.gate()->counts(team).delayed, 0u);
}

TEST(RolloutRate, AToolsRolloutCallsPassTheSameGate) {
    Harness::Options o;
    RolloutRateSettings s;
    s.per_second = 0.001;   // no refill within the test: the burst is all the team gets
    s.burst = 3;
    s.max_wait = std::chrono::milliseconds(0);
    o.rollout_rate = s;
    Harness h(o);
    if (const auto why = h.database().unavailable(); !why.empty()) GTEST_SKIP() << why;
    const auto team = h.add_team("tools");
    ToolRegistry tools;
    register_rollout_tools(tools, h.team(), SyncToolsDeps{&h.team(), &h.worker(), std::chrono::milliseconds(0)});
    json::object refused;
    for (int i = 0; i < 10 && refused.empty(); ++i) {
        auto r = call_tool(h, tools, team, "test_crm_connection", json::object{{"crmType", "highlevel"}});
        if (r.contains("isError") && r.at("isError").as_bool()) refused = r;
    }
    ASSERT_FALSE(refused.empty()) << "the tool was never held by the gate";
    const auto text = json::serialize(refused);
    EXPECT_NE(text.find("rate_limited"), std::string::npos) << text;
    EXPECT_NE(text.find("requests_per_second_per_team"), std::string::npos) << text;
    std::size_t sent = 0;
    for (const auto& r : h.fake().requests())
        if (const auto* sub = r.jwt_claims.if_contains("sub"); sub && sub->is_string() && sub->as_string() == team) ++sent;
    EXPECT_EQ(sent, 3u);   // the burst, and not one request more
    EXPECT_GE(h.gate()->counts(team).refused, 1u);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
