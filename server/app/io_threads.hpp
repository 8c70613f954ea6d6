// The server's I/O threads: one io_context per thread (docs/ARCHITECTURE.md, "Lifetime and shutdown"). A
// connection, the tool calls on it and the sync attempts they start stay on the thread that accepted the
// connection, so a tour is handled without threads handing each other work through one shared scheduler
// queue (its lock, its condition variable and the epoll interrupts that wake an idle thread cost more than
// the work itself: README, "Sync path CPU").
//
// The first context is the main one: the acceptor, signals, scheduling loops, the rate gate and periodic tasks
// live there, and it runs on the thread that calls run(). Every context holds a work guard, since a thread that
// only serves connections may have nothing to do for a while, and work on one thread may still need the main one
// (an attempt's Rollout call passes the rate gate on the main context) after the main one has nothing of its own.
// release(), at the end of the shutdown, lets the other threads return once their own work has ended, and only
// then the main thread; what is left anywhere is then run on the main thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <future>
#include <mutex>
#include <memory>
#include <optional>
#include <vector>

namespace rollout_mcp {

class IoThreads {
public:
    explicit IoThreads(unsigned count);   // at least one
    ~IoThreads();
    IoThreads(const IoThreads&) = delete;
    IoThreads& operator=(const IoThreads&) = delete;

    boost::asio::io_context& main_context() { return *contexts_.front(); }
    boost::asio::any_io_executor main() { return contexts_.front()->get_executor(); }
    // Where the next connection (and what it starts) runs: the contexts in turn. Thread-safe.
    boost::asio::any_io_executor next();
    std::size_t size() const { return contexts_.size(); }

    // Runs every context, one per thread (this thread runs the main one), until release() has been called and
    // all have run dry: the other threads return as their own work ends, while the main context still runs; then
    // every context is polled in turn on this thread until none has work left (a handler one thread posted to a
    // context that had already run dry). A handler that throws is logged and its thread goes back to work.
    void run();
    // The end of the shutdown: nothing new will be started. Thread-safe; once is enough, more is harmless.
    void release();

private:
    using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<std::optional<Guard>> guards_;   // [0] reset on the main thread, the others by run()'s joiner
    std::atomic<std::size_t> turn_{0};
    std::promise<void> released_;
    std::once_flag release_once_;
};

// The io_context an executor runs on, as an executor without its strand or other wrapping, so a unit of work
// spawned from a connection can take a strand of its own on the same thread. Strands (of strands) are
// unwrapped; anything else that is not an io_context's plain executor (a thread pool's, a tracked one) gives
// `fallback`.
boost::asio::any_io_executor context_executor_of(const boost::asio::any_io_executor& executor,
                                                 const boost::asio::any_io_executor& fallback);

}  // namespace rollout_mcp
