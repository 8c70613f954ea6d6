// Accepting syncs: a tool call's SyncRequest is enqueued on the storage thread, together with the requests of other
// calls waiting then (Storage::enqueue_syncs: on SQLite one durable commit for all of them), with the jobs this
// worker can start claimed in the same transaction (SyncWorker::Intake) and the caller's watch in place before any
// of them starts (docs/ARCHITECTURE.md, "One sync_tour_data call", steps 7-8).
#pragma once

#include "server/sync/storage_batch.hpp"
#include "server/sync/sync_worker.hpp"

namespace rollout_mcp {

struct WatchedEnqueue {
    storage::EnqueueResult accepted;   // its claimed jobs already handed to the worker
    std::shared_ptr<void> watch;       // null when nobody waits
    bool all_started = false;          // every job was claimed with the enqueue: no scan needed
};

struct EnqueueCall {
    storage::SyncRequest request;
    SyncWorker::Listener listener;     // empty: nobody waits
    SyncWorker::Watcher watcher;
    SyncWorker::Intake intake;
};

class EnqueueBatch {
public:
    // A durable commit waits for the disk: up to this many accepted calls share one.
    static constexpr std::size_t kMaxBatch = 16;

    explicit EnqueueBatch(StorageExecutor& storage);

    // Enqueues `call.request` in the storage lane `lane` (the team's). Await it at once (both are taken by reference;
    // the call is moved from when the coroutine first runs).
    boost::asio::awaitable<Result<WatchedEnqueue>> enqueue(EnqueueCall&& call, const std::string& lane);

    // The storage-thread part, for a batch of calls (also usable alone, e.g. by tests).
    static std::vector<Result<WatchedEnqueue>> run(storage::Storage& s, std::vector<EnqueueCall>& calls);

private:
    StorageBatch<EnqueueCall, Result<WatchedEnqueue>> batch_;
};

}  // namespace rollout_mcp
