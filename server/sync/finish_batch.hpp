// Group commit of attempt outcomes: attempts that end while the storage thread is busy are recorded together
// (Storage::finish_sync_attempts), at most kMaxBatch per storage call, instead of one SQLite commit each. A commit
// writes every page the transaction touched to the WAL, and jobs that end together share most of them (the leaves of
// the status and due-time indexes), so together they write fewer pages (README "Sync path CPU"). Each attempt is
// still recorded as if alone, under its own claim's fencing token. PostgreSQL records each in its own transaction.
#pragma once

#include "server/sync/storage_batch.hpp"

namespace rollout_mcp {

class FinishBatch {
public:
    // Bounds one storage call's work: calls of other lanes (API key checks) wait behind at most this many attempts.
    static constexpr std::size_t kMaxBatch = 32;

    explicit FinishBatch(StorageExecutor& storage);

    // Records one attempt, with others waiting when the storage thread gets to it. Await it at once (the attempt is
    // taken by reference and moved from when the coroutine first runs).
    boost::asio::awaitable<Result<storage::SyncJobInfo>> finish(storage::FinishAttempt&& attempt);

private:
    StorageBatch<storage::FinishAttempt, Result<storage::SyncJobInfo>> batch_;
};

}  // namespace rollout_mcp
