// The server's I/O threads: one io_context per thread (docs/ARCHITECTURE.md, "Lifetime and shutdown"). A
// connection, the tool calls on it and the sync attempts they start stay on the thread that accepted the
// connection, so a tour is handled without threads handing each other work through one shared scheduler
// queue (its lock, its condition variable and the epoll interrupts that wake an idle thread cost more than
// the work itself: README, "Sync path CPU").
//
// The first context is the main one: the acceptor, signals, scheduling loops and periodic tasks live there,
// and it runs on the thread that calls run(). The others each hold a work guard, since a thread that only
// serves connections may have nothing to do for a while; they are released once the main context has run
// dry (the shutdown ended everything it started there), and the threads return as their own work ends.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
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

    // Runs every context, one per thread (this thread runs the main one), until all have run dry: the main
    // context first, then the others once their guards are released. Handlers that a thread posted to a
    // context after it had run dry (an attempt ending on one thread wakes a loop of the main one) run here
    // too, before run() returns. A handler that throws is logged and its thread goes back to work.
    void run();

private:
    using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<std::optional<Guard>> guards_;   // [0] stays empty: the main context runs dry by itself
    std::atomic<std::size_t> turn_{0};
};

// The io_context an executor runs on, as an executor without its strand or other wrapping, so a unit of work
// spawned from a connection can take a strand of its own on the same thread. Strands (of strands) are
// unwrapped; anything else that is not an io_context's plain executor (a thread pool's, a tracked one) gives
// `fallback`.
boost::asio::any_io_executor context_executor_of(const boost::asio::any_io_executor& executor,
                                                 const boost::asio::any_io_executor& fallback);

}  // namespace rollout_mcp
