// Fair per-origin request slots: the ledger's rules without sockets, then a loopback flood where one team
// must not slow another down.
#include "rollout/host_slots.hpp"
#include "test_support.hpp"

#include <boost/asio/detached.hpp>

namespace rollout_mcp::rollout::test {
namespace {
namespace asio = boost::asio;
using Admit = SlotLedger::Admit;

TEST(HostSlots, SharesAreFlooredButNeverZero) {
    EXPECT_EQ((SlotLimits{4, 0.25, 256}.partition_in_flight_cap()), 1u);
    EXPECT_EQ((SlotLimits{4, 0.25, 256}.partition_queue_cap()), 64u);
    EXPECT_EQ((SlotLimits{16, 0.25, 10}.partition_in_flight_cap()), 4u);
    EXPECT_EQ((SlotLimits{16, 0.25, 10}.partition_queue_cap()), 2u);
    EXPECT_EQ((SlotLimits{2, 0.1, 3}.partition_in_flight_cap()), 1u);
    EXPECT_EQ((SlotLimits{2, 0.0, 3}.partition_queue_cap()), 1u);
    EXPECT_EQ((SlotLimits{8, 1.0, 8}.partition_in_flight_cap()), 8u);
}

TEST(HostSlots, PartitionCapAndQueueCapRefuseAtOnce) {
    SlotLedger l({4, 0.25, 8});  // per team: 1 in flight, 2 waiting; 8 waiting in all
    EXPECT_EQ(l.acquire("a", 1), Admit::granted);
    EXPECT_EQ(l.acquire("a", 2), Admit::queued);  // slots are free, but a is at its share
    EXPECT_EQ(l.acquire("a", 3), Admit::queued);
    EXPECT_EQ(l.acquire("a", 4), Admit::partition_queue_full);
    EXPECT_EQ(l.acquire("b", 5), Admit::granted);  // b is not held up by a's line
    EXPECT_EQ(l.in_flight(), 2u);
    EXPECT_EQ(l.queued("a"), 2u);
    // a's own release hands the slot to a's next waiter.
    auto g = l.release("a");
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].ticket, 2u);
    EXPECT_EQ(g[0].partition, "a");
    EXPECT_EQ(l.in_flight("a"), 1u);
}

TEST(HostSlots, OriginQueueIsBounded) {
    SlotLedger l({1, 1.0, 3});
    EXPECT_EQ(l.acquire("a", 1), Admit::granted);
    EXPECT_EQ(l.acquire("b", 2), Admit::queued);
    EXPECT_EQ(l.acquire("c", 3), Admit::queued);
    EXPECT_EQ(l.acquire("d", 4), Admit::queued);
    EXPECT_EQ(l.acquire("e", 5), Admit::origin_queue_full);
    EXPECT_EQ(l.queued(), 3u);
}

TEST(HostSlots, FreedSlotsGoRoundRobinSkippingPartitionsAtTheirShare) {
    SlotLedger l({2, 1.0, 100});
    ASSERT_EQ(l.acquire("a", 1), Admit::granted);
    ASSERT_EQ(l.acquire("a", 2), Admit::granted);
    for (std::uint64_t t = 10; t < 13; ++t) ASSERT_EQ(l.acquire("a", t), Admit::queued);
    for (std::uint64_t t = 20; t < 23; ++t) ASSERT_EQ(l.acquire("b", t), Admit::queued);
    for (std::uint64_t t = 30; t < 33; ++t) ASSERT_EQ(l.acquire("c", t), Admit::queued);
    std::vector<std::string> order;
    std::vector<std::uint64_t> tickets;
    std::string holder = "a";
    for (int i = 0; i < 9; ++i) {
        auto g = l.release(i < 2 ? "a" : order[static_cast<std::size_t>(i - 2)]);
        ASSERT_EQ(g.size(), 1u) << i;
        order.push_back(g[0].partition);
        tickets.push_back(g[0].ticket);
    }
    // Each waiting team in turn, each in its own arrival order.
    EXPECT_EQ(order, (std::vector<std::string>{"b", "c", "a", "b", "c", "a", "b", "c", "a"}));
    EXPECT_EQ(tickets, (std::vector<std::uint64_t>{20, 30, 10, 21, 31, 11, 22, 32, 12}));

    SlotLedger capped({4, 0.25, 100});  // one slot per team
    ASSERT_EQ(capped.acquire("a", 1), Admit::granted);
    ASSERT_EQ(capped.acquire("a", 2), Admit::queued);
    ASSERT_EQ(capped.acquire("b", 3), Admit::granted);
    // b finishing frees a slot, but a is at its share: nobody gets it until a's own request ends.
    EXPECT_TRUE(capped.release("b").empty());
    auto g = capped.release("a");
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].ticket, 2u);
}

TEST(HostSlots, CancelledWaiterLeavesTheLine) {
    SlotLedger l({1, 1.0, 4});
    ASSERT_EQ(l.acquire("a", 1), Admit::granted);
    ASSERT_EQ(l.acquire("b", 2), Admit::queued);
    EXPECT_TRUE(l.cancel("b", 2));
    EXPECT_FALSE(l.cancel("b", 2));
    EXPECT_TRUE(l.release("a").empty());
    EXPECT_TRUE(l.idle());
}

// Team A floods a slow origin; team B's sequential calls must not take even twice as long as unloaded.
TEST(HostSlots, FloodingTeamDoesNotStarveAnother) {
    ScriptedRollout stub([](const RecordedRequest&) {
        ScriptedReply r;
        r.delay = std::chrono::milliseconds{100};
        return r;
    });
    auto o = fast_options({stub.url()});
    o.max_concurrent_per_host = 4;   // per team: max(1, floor(0.25 x 4)) = 1 in flight
    o.max_queued_per_host = 40;      // per team: 10 waiting
    o.timeout = std::chrono::seconds{20};
    auto pool = HttpPool::create(o);
    auto request_for = [&](std::string team) {
        HttpRequest r;
        r.url = stub.url() + "/" + team;
        r.partition = std::move(team);
        return r;
    };
    auto& ioc = test_ioc();
    auto b_run = [&](std::chrono::steady_clock::duration& took, int& ok) -> asio::awaitable<void> {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 10; ++i)
            if (auto r = co_await pool->send(request_for("B")); r) ++ok;
        took = std::chrono::steady_clock::now() - t0;
    };
    std::chrono::steady_clock::duration unloaded{}, loaded{};
    int b_ok_unloaded = 0, b_ok_loaded = 0;
    asio::co_spawn(ioc, b_run(unloaded, b_ok_unloaded), asio::detached);
    run_all(std::chrono::seconds{30});
    ASSERT_EQ(b_ok_unloaded, 10);

    int a_ok = 0, a_full = 0, a_other = 0;
    std::string full_message;
    for (int i = 0; i < 200; ++i)
        asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
            auto r = co_await pool->send(request_for("A"));
            if (r) ++a_ok;
            else if (r.error().code == ErrorKind::rate_limited) {
                ++a_full;
                full_message = r.error().message;
                EXPECT_EQ(r.error().retry_after, std::chrono::seconds{1});
            } else ++a_other;
        }, asio::detached);
    asio::co_spawn(ioc, b_run(loaded, b_ok_loaded), asio::detached);
    run_all(std::chrono::seconds{60});

    EXPECT_EQ(b_ok_loaded, 10);
    EXPECT_LT(loaded, 2 * unloaded) << "unloaded " << std::chrono::duration_cast<std::chrono::milliseconds>(unloaded).count()
                                    << " ms, loaded " << std::chrono::duration_cast<std::chrono::milliseconds>(loaded).count() << " ms";
    EXPECT_EQ(a_ok, 11);     // 1 in flight + 10 waiting
    EXPECT_EQ(a_full, 189);  // refused at once, not after a timeout
    EXPECT_EQ(a_other, 0);
    EXPECT_NE(full_message.find("too many Rollout requests queued for this team"), std::string::npos) << full_message;
    EXPECT_NE(full_message.find("per_team_host_share"), std::string::npos) << full_message;
    const auto peaks = pool->stats().partition_in_flight_peak;
    EXPECT_EQ(peaks.at("A"), 1u);
    EXPECT_EQ(peaks.at("B"), 1u);
    EXPECT_LE(stub.peak_in_flight(), 2);
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
