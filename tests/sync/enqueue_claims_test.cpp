// Claiming with the enqueue (README "Sync path CPU"): a job this worker can start now is claimed by the enqueue's
// own transaction and started with no scheduler scan; one that cannot (no free place, a cap, its tour or buyer busy)
// is queued for the scheduler; and a job already waiting for a place runs before a newer one takes it.
#include "sync_harness.hpp"
#include "server/sync/enqueue_batch.hpp"
#include "server/sync/in_flight_places.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <future>
#include <mutex>
#include <set>

namespace rollout_mcp::sync_test {
namespace {
namespace asio = boost::asio;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

storage::SyncRequest tour_request(const std::string& tenant, const std::string& tour, const std::string& buyer) {
    storage::SyncRequest r;
    r.tenant_id = tenant;
    r.jobs.push_back({"highlevel", "tour", tour, tour, buyer, "{}"});
    return r;
}

// What the tool does on the storage thread: reserve, enqueue, settle. Returns the jobs claimed with the enqueue.
std::size_t enqueue_through_intake(storage::Storage& s, const SyncWorker::Intake& intake, storage::SyncRequest request) {
    intake.reserve(request);
    auto r = s.enqueue_sync(request, now_ms());
    if (!r) {
        intake.settle(request, nullptr);
        throw std::runtime_error(r.error().message);
    }
    const auto claimed = r->claimed.size();
    intake.settle(request, &*r);
    return claimed;
}

// Attempts in the order they started; a job whose tour is "hold" waits until `release` is set.
struct Started {
    std::mutex mu;
    std::vector<std::string> tours;
    std::atomic<bool> release{false};
    std::vector<std::string> snapshot() {
        std::lock_guard lock(mu);
        return tours;
    }
};

Harness::Options options(const std::shared_ptr<Started>& started) {
    Harness::Options o;
    o.start_fake = false;
    o.sync.poll = std::chrono::hours(1);   // only wakes, never the poll, start a queued job
    o.runner = [started](const storage::ClaimedJob& job) -> asio::awaitable<AttemptResult> {
        {
            std::lock_guard lock(started->mu);
            started->tours.push_back(job.info.tour_id);
        }
        while (job.info.tour_id == "hold" && !started->release) {
            asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(5));
            co_await pause.async_wait(asio::use_awaitable);
        }
        co_return AttemptResult{};
    };
    return o;
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

TEST(EnqueueClaims, AJobClaimedWithItsEnqueueStartsWithoutAnyScan) {
    auto started = std::make_shared<Started>();
    Harness h(options(started));
    const auto team = h.add_team("a");
    h.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));   // the start-up scan found nothing
    const auto intake = h.worker().intake();
    EXPECT_EQ(h.on_storage([&](storage::Storage& s) { return enqueue_through_intake(s, intake, tour_request(team, "T1", "B1")); }), 1u);
    ASSERT_TRUE(wait_for([&] { return started->snapshot().size() == 1; })) << "no wake, and the poll is an hour away";
    auto jobs = h.on_storage([&](storage::Storage& s) {
        storage::SyncJobQuery q;
        q.tenant_id = team;
        return s.find_sync_jobs(q);
    });
    ASSERT_TRUE(jobs && jobs->size() == 1);
    EXPECT_TRUE(wait_for([&] { return h.job(team, jobs->front().id).status == storage::JobStatus::succeeded; }));
    EXPECT_EQ(h.job(team, jobs->front().id).attempts, 1);
}

// The only place `o` allows is taken: a second sync is queued, and when the place comes back a third accepted at
// that moment must not take it before the second.
void expect_a_waiting_job_keeps_its_turn(Harness::Options o, const std::shared_ptr<Started>& started) {
    Harness h(o);
    const auto team = h.add_team("a");
    h.start();
    const auto intake = h.worker().intake();
    auto through_intake = [&](const std::string& tour, const std::string& buyer) {
        return h.on_storage([&](storage::Storage& s) { return enqueue_through_intake(s, intake, tour_request(team, tour, buyer)); });
    };
    ASSERT_EQ(through_intake("hold", "B1"), 1u);
    ASSERT_TRUE(wait_for([&] { return started->snapshot().size() == 1; }));
    EXPECT_EQ(through_intake("T2", "B2"), 0u) << "the only place is taken: queued";
    h.worker().wake();   // as the tool does: the scan finds no free place, and T2 waits for one
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // When the held job ends its place goes back; a sync accepted at that moment must not take it before T2.
    std::atomic<std::size_t> late_claimed{99};
    auto hold_id = h.on_storage([&](storage::Storage& s) {
        storage::SyncJobQuery q;
        q.tenant_id = team;
        q.tour_id = "hold";
        return s.find_sync_jobs(q)->front().id;
    });
    auto watch = h.worker().watch_scoped({hold_id}, [&](const storage::SyncJobInfo& info) {
        if (info.status != storage::JobStatus::succeeded) return;
        // Called after the place was given back and before the scheduler is woken: the enqueue goes first.
        h.storage().post([&](storage::Storage& s) { late_claimed = enqueue_through_intake(s, intake, tour_request(team, "T3", "B3")); });
    });
    started->release = true;
    ASSERT_TRUE(wait_for([&] { return started->snapshot().size() == 3; }));
    EXPECT_EQ(late_claimed, 0u) << "T2 was waiting for the place: T3 queues behind it";
    EXPECT_EQ(started->snapshot(), (std::vector<std::string>{"hold", "T2", "T3"}));
}

TEST(EnqueueClaims, AJobWaitingForTheLastFreePlaceKeepsItsTurn) {
    auto started = std::make_shared<Started>();
    auto o = options(started);
    o.sync.max_in_flight = 1;   // the in-memory backlog holds the new job back
    expect_a_waiting_job_keeps_its_turn(o, started);
}

TEST(EnqueueClaims, AJobWaitingForItsTeamsPlaceKeepsItsTurn) {
    auto started = std::make_shared<Started>();
    auto o = options(started);
    o.sync.per_team_in_flight = 1;   // places are free, but the team's due job comes first (the store's check)
    expect_a_waiting_job_keeps_its_turn(o, started);
}

TEST(EnqueueClaims, AStoppedWorkerReservesNothing) {
    auto started = std::make_shared<Started>();
    Harness h(options(started));
    const auto team = h.add_team("a");
    h.start();
    const auto intake = h.worker().intake();
    h.worker().stop();
    EXPECT_EQ(h.on_storage([&](storage::Storage& s) { return enqueue_through_intake(s, intake, tour_request(team, "T1", "B1")); }), 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(started->snapshot().empty());
}

// A job claimed with its enqueue runs on the thread of the call that enqueued it (its io_context, without the
// call's strand), so that the call and the attempt it waits for share one I/O thread (server/app/io_threads.hpp);
// one the scheduler claims runs where SyncWorker::start was told.
TEST(EnqueueClaims, AnAttemptStartedWithItsEnqueueRunsOnTheEnqueuingCallsThread) {
    asio::io_context home(1);
    auto home_guard = asio::make_work_guard(home);
    std::thread home_thread([&home] { home.run(); });
    struct Seen {
        std::mutex mu;
        std::map<std::string, const asio::execution_context*> contexts;   // tour -> where its attempt ran
        std::map<std::string, bool> on_own_strand;
    };
    auto seen = std::make_shared<Seen>();
    Harness::Options o;
    o.start_fake = false;
    o.sync.poll = std::chrono::hours(1);
    o.runner = [seen](const storage::ClaimedJob& job) -> asio::awaitable<AttemptResult> {
        const auto ex = co_await asio::this_coro::executor;
        std::lock_guard lock(seen->mu);
        seen->contexts[job.info.tour_id] = &asio::query(ex, asio::execution::context);
        seen->on_own_strand[job.info.tour_id] = ex.target<asio::strand<asio::any_io_executor>>() != nullptr;
        co_return AttemptResult{};
    };
    {
        Harness h(o);
        const auto team = h.add_team("a");
        h.start();
        const asio::any_io_executor call_strand = asio::make_strand(home.get_executor());   // a connection's strand
        const auto from_home = h.worker().intake(call_strand);
        const auto from_nowhere = h.worker().intake();
        EXPECT_EQ(h.on_storage([&](storage::Storage& s) {
                      return enqueue_through_intake(s, from_home, tour_request(team, "T1", "B1"));
                  }), 1u);
        EXPECT_EQ(h.on_storage([&](storage::Storage& s) {
                      return enqueue_through_intake(s, from_nowhere, tour_request(team, "T2", "B2"));
                  }), 1u);
        ASSERT_TRUE(wait_for([&] {
            std::lock_guard lock(seen->mu);
            return seen->contexts.size() == 2;
        }));
        std::lock_guard lock(seen->mu);
        EXPECT_EQ(seen->contexts["T1"], static_cast<const asio::execution_context*>(&home));
        EXPECT_TRUE(seen->on_own_strand["T1"]) << "a strand of its own, not the call's";
        EXPECT_EQ(seen->contexts["T2"], static_cast<const asio::execution_context*>(&h.io())) << "the worker's own";
    }
    home_guard.reset();
    home_thread.join();
}

TEST(EnqueueClaims, CallsAcceptedTogetherEachGetTheirOwnJobsAndTheirWatchBeforeTheyRun) {
    auto started = std::make_shared<Started>();
    auto o = options(started);
    o.sync.max_in_flight = o.sync.per_team_in_flight = o.sync.per_crm_in_flight = 64;   // only the buyers' locks
    Harness h(o);
    const auto team = h.add_team("a");
    h.start();
    std::promise<void> release;
    auto released = release.get_future().share();
    h.storage().post([released](storage::Storage&) { released.wait(); });   // holds the storage thread
    constexpr int kCalls = EnqueueBatch::kMaxBatch + 6;   // more than one storage call's worth
    // Shared with the detached calls, which may outlive this scope if an assertion ends the test early.
    struct Calls {
        std::vector<std::optional<Result<WatchedEnqueue>>> results = std::vector<std::optional<Result<WatchedEnqueue>>>(kCalls);
        std::vector<std::atomic<int>> heard = std::vector<std::atomic<int>>(kCalls);
        std::atomic<int> done{0};
    };
    auto calls = std::make_shared<Calls>();
    auto& results = calls->results;
    auto& heard = calls->heard;
    auto& done = calls->done;
    SyncWorker& worker = h.worker();
    for (int i = 0; i < kCalls; ++i) {
        const auto tour = "T" + std::to_string(i);
        // Every fourth one reuses the buyer of the one before: queued while that one's claim lives.
        const auto buyer = "B" + std::to_string(i % 4 == 3 ? i - 1 : i);
        asio::co_spawn(asio::make_strand(h.io()),
                       [calls, &worker, team, i, tour, buyer]() -> asio::awaitable<void> {
                           SyncWorker::Listener listener = [calls, i](const storage::SyncJobInfo& info) {
                               if (info.status == storage::JobStatus::succeeded) ++calls->heard[i];
                           };
                           EnqueueCall call{tour_request(team, tour, buyer), std::move(listener), worker.watcher(),
                                            worker.intake()};
                           auto r = co_await worker.accepting().enqueue(std::move(call), team);
                           if (r && !r->all_started) worker.wake();   // as the tool does
                           calls->results[i] = std::move(r);
                           ++calls->done;
                       },
                       asio::detached);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));   // every call queued behind the held thread
    release.set_value();
    ASSERT_TRUE(wait_for([&] { return done == kCalls; }));
    std::set<std::string> ids;
    int claimed = 0;
    for (int i = 0; i < kCalls; ++i) {
        ASSERT_TRUE(results[i] && *results[i]) << i;
        const auto& w = **results[i];
        ASSERT_EQ(w.accepted.job_ids.size(), 1u);
        ids.insert(w.accepted.job_ids[0]);
        EXPECT_EQ(h.job(team, w.accepted.job_ids[0]).tour_id, "T" + std::to_string(i)) << "its own job";
        claimed += w.all_started ? 1 : 0;
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kCalls));
    // How many were claimed at their enqueue depends on which calls shared a batch and which attempts had ended
    // (a job whose buyer is free again goes first); every job runs either way.
    EXPECT_GE(claimed, 1);
    // Every watch hears its job succeed, also those claimed and finished at once.
    EXPECT_TRUE(wait_for([&] {
        for (auto& n : heard)
            if (n != 1) return false;
        return true;
    }));
    results.clear();   // the watches end
}

// The in-memory rules on their own: caps, tour and buyer locks, reservations and the backlog.
TEST(InFlightPlaces, ReservationsFollowTheCapsLocksAndBacklog) {
    SyncSettings s;
    s.max_in_flight = 3;
    s.per_team_in_flight = 2;
    s.per_crm_in_flight = 2;
    InFlightPlaces places(s);
    EXPECT_TRUE(places.reserve({"a", "hubspot", "B1", "T1"}));
    EXPECT_FALSE(places.reserve({"a", "hubspot", "B1", "T2"})) << "the buyer is busy";
    EXPECT_FALSE(places.reserve({"a", "hubspot", "B2", "T1"})) << "the tour is busy";
    EXPECT_TRUE(places.reserve({"a", "pipedrive", "B1", "T1"})) << "another CRM";
    EXPECT_FALSE(places.reserve({"a", "other", "B3", "T3"})) << "the team's cap";
    EXPECT_TRUE(places.reserve({"b", "hubspot", "B1", "T1"})) << "another team";
    EXPECT_EQ(places.capacity(), 0u);
    EXPECT_FALSE(places.reserve({"c", "hubspot", "B1", "T1"})) << "no free place";
    places.unreserve({"a", "pipedrive", "B1", "T1"});
    EXPECT_EQ(places.capacity(), 1u);
    places.set_backlog(true);
    EXPECT_FALSE(places.reserve({"c", "hubspot", "B1", "T1"})) << "a due job waits for that place";
    std::vector<storage::DueJob> due{{"job_1", "c", "hubspot", "B1", "T1"}, {"job_2", "a", "hubspot", "B9", "T1"}};
    EXPECT_EQ(places.take_due(due, 1), std::vector<std::string>{"job_1"}) << "the scheduler still takes it";
    EXPECT_EQ(places.capacity(), 0u) << "its place is held before its claim";
    places.set_backlog(false);
    storage::SyncJobInfo held;
    held.id = "job_1";
    held.tenant_id = "c";
    held.crm_type = "hubspot";
    held.lock_key = "B1";
    held.tour_id = "T1";
    places.hold(held, /*reserved=*/true);
    EXPECT_EQ(places.capacity(), 0u);
    places.unreserve({"b", "hubspot", "B1", "T1"});
    EXPECT_TRUE(places.take_due(due, 3).empty()) << "a held job is not offered again, and job_2's tour is busy";
    places.release(held);
    EXPECT_EQ(places.capacity(), 2u);
    EXPECT_TRUE(places.reserve({"c", "hubspot", "B1", "T1"}));
}

}  // namespace
}  // namespace rollout_mcp::sync_test
