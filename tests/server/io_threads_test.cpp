// IoThreads (server/app/io_threads.hpp): one io_context per thread; a run ends once release() was called and every
// context has run dry, and nothing posted or pending on any context is dropped on the way out.
#include "server/app/io_threads.hpp"
#include "storage/sql_storage.hpp"
#include "storage/storage_executor.hpp"
#include "tests/crypto/test_support.hpp"

#include <sodium.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <optional>
#include <set>
#include <thread>

namespace rollout_mcp {
namespace {
namespace asio = boost::asio;

const asio::execution_context* context_of(const asio::any_io_executor& ex) {
    return &asio::query(ex, asio::execution::context);
}

// An executor of a context other than the main one (IoThreads(2): the second).
asio::any_io_executor other_than_main(IoThreads& io) {
    auto other = io.next();
    if (context_of(other) == context_of(io.main())) other = io.next();
    return other;
}

TEST(IoThreads, NextTakesEachContextInTurnAndEachRunsOnItsOwnThread) {
    IoThreads io(3);
    ASSERT_EQ(io.size(), 3u);
    std::vector<asio::any_io_executor> turns;
    for (int i = 0; i < 6; ++i) turns.push_back(io.next());
    std::set<const asio::execution_context*> contexts;
    for (int i = 0; i < 3; ++i) {
        contexts.insert(context_of(turns[i]));
        EXPECT_EQ(context_of(turns[i]), context_of(turns[i + 3])) << "the same three in the same order";
    }
    EXPECT_EQ(contexts.size(), 3u);
    // One handler on each context records its thread; the main one's runs on the thread that called run().
    std::mutex mu;
    std::map<const asio::execution_context*, std::thread::id> threads;
    for (int i = 0; i < 3; ++i)
        asio::post(turns[i], [&, ctx = context_of(turns[i])] {
            std::lock_guard lock(mu);
            threads[ctx] = std::this_thread::get_id();
        });
    io.release();   // as the shutdown does: nothing new will be started
    io.run();
    ASSERT_EQ(threads.size(), 3u);
    EXPECT_EQ(threads[context_of(io.main())], std::this_thread::get_id());
    std::set<std::thread::id> distinct;
    for (const auto& [ctx, id] : threads) distinct.insert(id);
    EXPECT_EQ(distinct.size(), 3u);
}

TEST(IoThreads, ARunEndsOnlyOnceTheOtherThreadsWorkEndsToo) {
    IoThreads io(2);
    const auto other = other_than_main(io);
    std::atomic<bool> finished{false};
    // A timer on the other thread outlasts everything on the main one: run() waits for it.
    asio::co_spawn(asio::make_strand(other), [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
        co_await t.async_wait(asio::use_awaitable);
        finished = true;
    }, asio::detached);
    io.release();   // as the shutdown does: nothing new will be started
    io.run();
    EXPECT_TRUE(finished);
}

// Released at once, with nothing of its own: the main context still runs for another thread whose work hops onto it
// (as an attempt's Rollout call passes the rate gate on the main context) until that thread has returned.
TEST(IoThreads, TheMainContextKeepsServingTheOtherThreadsUntilTheyReturn) {
    IoThreads io(2);
    const auto other = other_than_main(io);
    std::atomic<bool> hopped{false};
    asio::co_spawn(asio::make_strand(other), [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
        co_await t.async_wait(asio::use_awaitable);
        auto gate = asio::make_strand(io.main());
        co_await asio::co_spawn(gate, []() -> asio::awaitable<void> { co_return; }, asio::use_awaitable);
        hopped = true;
    }, asio::detached);
    io.release();
    const auto started = std::chrono::steady_clock::now();
    io.run();   // before the fix: the main thread returned at once and the join waited forever
    EXPECT_TRUE(hopped);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(IoThreads, WorkPostedToAContextAfterItRanDryStillRuns) {
    IoThreads io(2);
    const auto other = other_than_main(io);
    std::atomic<int> steps{0};
    // The other thread's last handler wakes the main context after that one has run dry; that handler posts back
    // to the other context, which by then may have run dry too. Both run before run() returns.
    asio::co_spawn(asio::make_strand(other), [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
        co_await t.async_wait(asio::use_awaitable);
        asio::post(io.main(), [&] {
            ++steps;
            asio::post(other, [&] { ++steps; });
        });
    }, asio::detached);
    io.release();   // as the shutdown does: nothing new will be started
    io.run();
    EXPECT_EQ(steps, 2);
}

// Work of the two threads waiting for each other on the way out: a handler on the main context waits for a timer that
// only a handler posted to the other context cancels, whether that thread is still running or has returned (the
// drain then polls both). Run one context after the other, the main one would sit out the whole timer.
TEST(IoThreads, LeftoverWorkOnOneContextWaitingForAnotherDoesNotSitOutItsTimer) {
    IoThreads io(2);
    const auto other = other_than_main(io);
    std::optional<asio::steady_timer> long_wait;
    std::atomic<bool> cancelled{false};
    asio::co_spawn(asio::make_strand(other), [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
        co_await t.async_wait(asio::use_awaitable);
        asio::post(io.main(), [&] {   // runs once the main context ran dry: the drain after the threads joined
            long_wait.emplace(io.main(), std::chrono::seconds(30));
            long_wait->async_wait([&](const boost::system::error_code& ec) { cancelled = ec == asio::error::operation_aborted; });
            asio::post(other, [&] { long_wait->cancel(); });
        });
    }, asio::detached);
    const auto started = std::chrono::steady_clock::now();
    io.release();   // as the shutdown does: nothing new will be started
    io.run();
    EXPECT_TRUE(cancelled);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(IoThreads, AStorageCallKeepsItsThreadRunningUntilItsAnswerArrives) {
    test::TempDir dir;
    std::string key(32, '\0');
    randombytes_buf(key.data(), key.size());
    StorageExecutor storage(storage::SqlStorage::open(
        dir.path() / "db.sqlite", crypto::MasterKey{crypto::SecretBytes::copy_of(key), "test master key", {}}));
    IoThreads io(2);
    const auto other = other_than_main(io);
    std::promise<void> release;
    auto released = release.get_future().share();
    std::atomic<bool> answered{false};
    std::atomic<bool> same_context{false};
    // The only thing the other thread has to do is wait for the storage thread, which is held until after the main
    // context ran dry: without the call counting as work, that thread would return and the answer be dropped.
    asio::co_spawn(asio::make_strand(other), [&]() -> asio::awaitable<void> {
        storage.post([released](storage::Storage&) { released.wait(); });
        auto tenants = co_await storage.call(&storage::Storage::list_tenants);
        answered = static_cast<bool>(tenants);
        same_context = context_of(co_await asio::this_coro::executor) == context_of(other);
    }, asio::detached);
    asio::post(io.main(), [&] {
        std::thread([&release] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            release.set_value();
        }).detach();
    });
    io.release();   // as the shutdown does: nothing new will be started
    io.run();
    EXPECT_TRUE(answered);
    EXPECT_TRUE(same_context);
}

TEST(IoThreads, ContextExecutorOfDropsTheStrand) {
    IoThreads io(2);
    auto ex = io.next();
    auto strand = asio::make_strand(ex);
    const asio::any_io_executor wrapped = strand;
    const auto plain = context_executor_of(wrapped, io.main());
    EXPECT_EQ(context_of(plain), context_of(ex));
    EXPECT_TRUE(plain == ex) << "the io_context's own executor, without the strand";
    asio::thread_pool pool(1);
    const asio::any_io_executor foreign = pool.get_executor();
    EXPECT_EQ(context_of(context_executor_of(foreign, io.main())), context_of(io.main()));
    pool.join();
}

}  // namespace
}  // namespace rollout_mcp
