// FinishBatch (server/sync/finish_batch.hpp): attempts that end while the storage thread is busy are recorded
// together, and every caller gets its own attempt's result, a fenced one included, whichever strand it awaits on.
#include "sync_harness.hpp"

#include "server/sync/finish_batch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace rollout_mcp::sync_test {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;
using storage::JobStatus;

json::object tour(const std::string& id) {
    return json::object{{"tourId", id}, {"agentId", "a"}, {"buyerId", "B-" + id},
                        {"properties", json::array{json::object{{"propertyId", "P1"}, {"address", "1 Main St"},
                                                                {"visitTime", "2026-12-05T10:00:00-06:00"}}}}};
}

TEST(FinishBatch, EachCallerGetsItsOwnResultWhenAttemptsAreRecordedTogether) {
    Harness h;   // the worker is not started: the attempts here are this test's own
    const auto team = h.add_team("batch");
    constexpr int kJobs = FinishBatch::kMaxBatch + 8;   // more than one storage call's worth
    std::vector<std::string> ids;
    for (int i = 0; i < kJobs; ++i) ids.push_back(h.enqueue_tour(team, tour("T" + std::to_string(i))).at(0));
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count() + 1'000;
    auto claimed = h.on_storage([&](storage::Storage& s) {
        s.set_limits(storage::StorageLimits{});   // no running caps: every job at once
        return s.claim_sync_jobs(ids, now, now + 600'000);
    });
    ASSERT_TRUE(claimed && claimed->size() == ids.size());

    std::promise<void> release;
    auto released = release.get_future().share();
    h.storage().post([released](storage::Storage&) { released.wait(); });   // holds the storage thread

    FinishBatch batch(h.storage());
    std::vector<std::optional<Result<storage::SyncJobInfo>>> results(ids.size());
    std::atomic<int> done{0};
    for (std::size_t i = 0; i < claimed->size(); ++i) {
        const auto& job = (*claimed)[i];
        // Every third one with a stale token: fenced, while its neighbours in the batch are recorded.
        storage::FinishAttempt attempt{job.info.id, job.claim_token - (i % 3 == 2 ? 1 : 0), {}, now};
        attempt.outcome.ledger.push_back({"person", "B-" + job.info.subject, "p-" + job.info.id, {}});
        asio::co_spawn(asio::make_strand(h.io()),
                       [&, i, attempt = std::move(attempt)]() mutable -> asio::awaitable<void> {
                           auto r = co_await batch.finish(std::move(attempt));
                           results[i] = std::move(r);
                           ++done;
                       },
                       asio::detached);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));   // every finish queued behind the held thread
    release.set_value();
    for (int waited = 0; done < kJobs && waited < 1000; ++waited) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(done.load(), kJobs);
    for (std::size_t i = 0; i < claimed->size(); ++i) {
        const auto& job = (*claimed)[i];
        ASSERT_TRUE(results[i]);
        if (i % 3 == 2) {
            ASSERT_FALSE(*results[i]) << job.info.id;
            EXPECT_EQ(results[i]->error().code, storage::ErrorCode::not_found);
            EXPECT_EQ(h.job(team, job.info.id).status, JobStatus::running);
        } else {
            ASSERT_TRUE(*results[i]) << results[i]->error().message;
            EXPECT_EQ((*results[i])->id, job.info.id) << "its own job's result";
            EXPECT_EQ((*results[i])->status, JobStatus::succeeded);
        }
    }
}

}  // namespace
}  // namespace rollout_mcp::sync_test
