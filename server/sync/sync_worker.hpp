// The outbox workers (docs/ARCHITECTURE.md, "The outbox state machine"): claim due jobs fairly across teams within
// the in-flight caps, run each attempt, record its outcome, wake waiting tool calls, and deliver dead-job alerts.
#pragma once

#include "server/app/config.hpp"
#include "storage/storage_executor.hpp"
#include "server/sync/sync_policy.hpp"
#include "server/sync/sync_runner.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace rollout_mcp {

class AlertSender;
class EnqueueBatch;

class SyncWorker {
    struct State;

public:
    // Runs one attempt; the server's is SyncRunner::run, tests plug in their own.
    using Runner = std::function<boost::asio::awaitable<AttemptResult>(const storage::ClaimedJob&)>;
    // Called when a watched job may have changed, on a worker thread: after every attempt recorded (here or on
    // another instance), a tasks/cancel, or a re-read after a notification gap (the job may then be unchanged).
    using Listener = std::function<void(const storage::SyncJobInfo&)>;

    SyncWorker(StorageExecutor& storage, SyncSettings settings, Runner runner,
               std::shared_ptr<AlertSender> alerts = nullptr, JitterSource jitter = default_jitter());
    ~SyncWorker();
    SyncWorker(const SyncWorker&) = delete;
    SyncWorker& operator=(const SyncWorker&) = delete;

    // Re-queues jobs a previous process left running (blocking, on the calling thread: start-up only),
    // then starts the scheduling and alert loops on `io`. Attempts the scheduler claims run on
    // `attempt_executors()` (main: the I/O threads in turn), or on `io` without it. Call once.
    using AttemptExecutors = std::function<boost::asio::any_io_executor()>;
    void start(boost::asio::any_io_executor io, AttemptExecutors attempt_executors = {});
    // Stops claiming and ends the scheduling and alert loops. Attempts in flight run to their end; if the
    // process ends first, their claims expire and the next start re-drives them with recover. Safe from
    // any thread; idempotent.
    void stop();
    // For an owner that stops its io_context with attempts still in flight (the test harness): drops the
    // timers and strand made on start()'s executor before that io_context is destroyed. main does not need
    // it: its io_context runs dry first.
    void release_io();
    // New jobs may be due: scan now instead of at the next poll.
    void wake();
    // These jobs changed without an attempt of this worker (tasks/cancel here, or another instance's change):
    // their watchers hear of each as read back from the store. Safe from any thread; no-op before start().
    void jobs_changed(const std::vector<std::string>& job_ids);
    // Notifications from other instances may have been lost (the listener reconnected): every watched job is read
    // again and its watchers told.
    void notifications_gap();

    // Calls `listener` for these jobs until the returned handle goes (it may outlive the worker).
    std::shared_ptr<void> watch_scoped(std::vector<std::string> job_ids, Listener listener);
    // watch_scoped for another thread, as a value that may outlive the worker: once the worker is gone it watches
    // nothing and returns null.
    using Watcher = std::function<std::shared_ptr<void>(std::vector<std::string>, Listener)>;
    Watcher watcher() const;

    // Claiming with the enqueue (README "Sync path CPU"), on the storage thread around enqueue_sync: `reserve` marks
    // the request's jobs this worker can start now (its caps and locks, no due job waiting for a place) and holds
    // their places; `settle` starts the attempts of those the store claimed and frees the other places. Every
    // reserve needs its settle, also when the enqueue failed (null). A value that may outlive the worker: once the
    // worker is gone or stopping it reserves nothing.
    class Intake {
    public:
        void reserve(storage::SyncRequest& request) const;
        void settle(const storage::SyncRequest& request, storage::EnqueueResult* accepted) const;

    private:
        friend class SyncWorker;
        std::weak_ptr<State> state_;
        boost::asio::any_io_executor home_;   // where the attempts it starts run; empty: the scheduler's choice
    };
    // `home`: the executor of the call that enqueues (its thread runs the attempts it starts, so that the call
    // and the attempt it waits for share one I/O thread: server/app/io_threads.hpp).
    Intake intake(const boost::asio::any_io_executor& home = {}) const;
    // Where sync tools enqueue: group commit of accepted calls, with this worker's watcher and intake
    // (server/sync/enqueue_batch.hpp).
    EnqueueBatch& accepting() { return *accepting_; }

private:
    std::shared_ptr<State> state_;
    std::unique_ptr<EnqueueBatch> accepting_;
};

}  // namespace rollout_mcp
