// IoThreads (server/app/io_threads.hpp).
#include "server/app/io_threads.hpp"

#include "server/app/log.hpp"

#include <boost/asio/strand.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>

namespace rollout_mcp {
namespace asio = boost::asio;

namespace {

// Runs `ioc` with `how` (run: until it has run dry; poll: what is ready now); a handler that throws is a bug:
// logged, and the thread goes on.
std::size_t serve_logging(asio::io_context& ioc, std::size_t (asio::io_context::*how)()) {
    std::size_t handlers = 0;
    for (;;) {
        try {
            handlers += (ioc.*how)();
            return handlers;
        } catch (const std::exception& e) {
            ++handlers;
            log::error("unhandled exception on an I/O thread", {{"error", e.what()}});
        }
    }
}
std::size_t run_logging(asio::io_context& ioc) { return serve_logging(ioc, &asio::io_context::run); }
std::size_t poll_logging(asio::io_context& ioc) { return serve_logging(ioc, &asio::io_context::poll); }

}  // namespace

IoThreads::IoThreads(unsigned count) {
    count = std::max(1u, count);
    contexts_.reserve(count);
    guards_.resize(count);
    for (unsigned i = 0; i < count; ++i) {
        // Concurrency hint 1: each context is run by one thread, so its scheduler takes no lock contention
        // into account and never hands a handler to a sleeping thread.
        contexts_.push_back(std::make_unique<asio::io_context>(1));
        guards_[i].emplace(contexts_[i]->get_executor());
    }
}

IoThreads::~IoThreads() {
    guards_.clear();
    // The main context last: a handler left on another one may own what was made on the main one.
    while (!contexts_.empty()) contexts_.pop_back();
}

void IoThreads::release() {
    std::call_once(release_once_, [this] { released_.set_value(); });
}

asio::any_io_executor IoThreads::next() {
    const auto i = turn_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
    return contexts_[i]->get_executor();
}

void IoThreads::run() {
    std::vector<std::thread> threads;
    threads.reserve(contexts_.size() - 1);
    for (std::size_t i = 1; i < contexts_.size(); ++i)
        threads.emplace_back([ioc = contexts_[i].get()] { run_logging(*ioc); });
    // Once released: the other threads end their own work while the main context still runs for them, then the
    // main thread stops running its context alone and drains every context below.
    std::thread joiner([this, &threads] {
        released_.get_future().wait();
        for (std::size_t i = 1; i < guards_.size(); ++i) guards_[i].reset();
        for (auto& t : threads) t.join();
        asio::post(main_context(), [this] {
            guards_.front().reset();
            main_context().stop();
        });
    });
    run_logging(main_context());
    joiner.join();
    // What is left anywhere (work the main context still had, a handler one thread posted to a context that had
    // already run dry) runs here. Polled in turn rather than run one after the other: a handler left on one
    // context may wait for one left on another.
    for (;;) {
        std::size_t ran = 0;
        bool working = false;
        for (auto& ioc : contexts_) {
            ioc->restart();
            ran += poll_logging(*ioc);
            working = working || !ioc->stopped();   // stopped: no work was left when the poll ended
        }
        // A round that ran something may have posted to a context polled before it: one more round then.
        if (!working && ran == 0) return;
        if (ran == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));   // waiting on I/O or a timer
    }
}

asio::any_io_executor context_executor_of(const asio::any_io_executor& executor,
                                          const asio::any_io_executor& fallback) {
    using Strand = asio::strand<asio::any_io_executor>;
    using ContextStrand = asio::strand<asio::io_context::executor_type>;
    if (const auto* strand = executor.target<Strand>()) return context_executor_of(strand->get_inner_executor(), fallback);
    if (const auto* strand = executor.target<ContextStrand>()) return strand->get_inner_executor();
    if (executor.target<asio::io_context::executor_type>() != nullptr) return executor;
    return fallback;
}

}  // namespace rollout_mcp
