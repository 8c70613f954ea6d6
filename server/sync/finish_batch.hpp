// Group commit of attempt outcomes: attempts that end while the storage thread is busy are recorded together
// (Storage::finish_sync_attempts), at most kMaxBatch per storage call, instead of one SQLite commit each. A commit
// writes every page the transaction touched to the WAL, and jobs that end together share most of them (the leaves of
// the status and due-time indexes), so together they write fewer pages (README "Sync path CPU"). Each attempt is
// still recorded as if alone, under its own claim's fencing token. PostgreSQL records each in its own transaction.
#pragma once

#include "storage/storage_executor.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace rollout_mcp {

class FinishBatch {
public:
    // Bounds one storage call's work: calls of other lanes (API key checks) wait behind at most this many attempts.
    static constexpr std::size_t kMaxBatch = 32;

    explicit FinishBatch(StorageExecutor& storage);

    // Records one attempt, with others waiting when the storage thread gets to it. Await it at once: `attempt` is
    // taken by reference (a by-value coroutine parameter is a temporary GCC 12 destroys twice inside a co_await)
    // and moved from when the coroutine first runs.
    boost::asio::awaitable<Result<storage::SyncJobInfo>> finish(storage::FinishAttempt&& attempt);

private:
    struct Slot {
        storage::FinishAttempt attempt;
        std::optional<Result<storage::SyncJobInfo>> result;   // set on the storage thread
    };
    struct Queue {
        std::mutex mu;
        std::vector<std::shared_ptr<Slot>> waiting;
    };
    // On the storage thread: unless an earlier call already recorded `mine` (the storage thread runs one call at a
    // time, so that call has finished), records it with up to kMaxBatch - 1 others waiting; returns its result.
    static Result<storage::SyncJobInfo> record_waiting(storage::Storage& s, std::shared_ptr<Queue> queue,
                                                       std::shared_ptr<Slot> mine);

    StorageExecutor& storage_;
    std::shared_ptr<Queue> queue_ = std::make_shared<Queue>();
};

}  // namespace rollout_mcp
