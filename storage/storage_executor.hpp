// Runs Storage calls on one dedicated thread, so no I/O thread ever blocks on SQLite. A coroutine awaits
// one repository call with `co_await storage.call(&storage::Storage::get_rollout_config, tenant)`, or several
// with `co_await storage.run(closure)`, and resumes on its own executor.
//
// Calls wait in lanes served round robin, one call at a time: a lane with a long queue (one team's flood of
// syncs, an hourly purge) delays another lane's call by at most one call per busy lane. API-key checks, which
// every request needs before anything else, have a lane of their own (kAuthLane), so a team that floods the
// server cannot make every other team's requests wait behind its storage work.
#pragma once

#include "storage/storage.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace rollout_mcp {

class StorageExecutor {
public:
    static constexpr const char* kAuthLane = "auth";

    explicit StorageExecutor(std::unique_ptr<storage::Storage> storage)
        : pool_(1), storage_(std::move(storage)) {}
    ~StorageExecutor() { pool_.join(); }
    StorageExecutor(const StorageExecutor&) = delete;
    StorageExecutor& operator=(const StorageExecutor&) = delete;

    // One repository call with its arguments copied as given (a std::string stays an owned copy; a
    // string_view must view something the awaiting coroutine keeps alive, as its locals are). Pass named
    // objects, never a temporary with a destructor (a std::string built in the call): GCC 12 destroys a
    // temporary inside a co_await expression twice.
    template <class R, class... Params, class... Args>
    boost::asio::awaitable<R> call(R (storage::Storage::*fn)(Params...), Args&&... args) {
        return call_in({}, fn, std::forward<Args>(args)...);
    }
    template <class R, class... Params, class... Args>
    boost::asio::awaitable<R> call_in(std::string lane, R (storage::Storage::*fn)(Params...), Args&&... args) {
        auto bound = [fn, ... copies = std::decay_t<Args>(std::forward<Args>(args))](storage::Storage& s) mutable {
            return (s.*fn)(std::move(copies)...);   // the closure runs once
        };
        return run(std::move(bound), std::move(lane));
    }
    // Several repository calls as one step: a function `R fn(storage::Storage&, Params...)` (a transaction's
    // worth of work, such as reading two ledgers), its arguments copied as above.
    template <class R, class... Params, class... Args>
    boost::asio::awaitable<R> call(R (*fn)(storage::Storage&, Params...), Args&&... args) {
        return call_in({}, fn, std::forward<Args>(args)...);
    }
    template <class R, class... Params, class... Args>
    boost::asio::awaitable<R> call_in(std::string lane, R (*fn)(storage::Storage&, Params...), Args&&... args) {
        auto bound = [fn, ... copies = std::decay_t<Args>(std::forward<Args>(args))](storage::Storage& s) mutable {
            return fn(s, std::move(copies)...);
        };
        return run(std::move(bound), std::move(lane));
    }

    // Fire-and-forget work on the storage thread (periodic maintenance), in the default lane.
    template <class F>
    void post(F f) {
        enqueue({}, [f = std::move(f), s = storage_.get()]() mutable { f(*s); });
    }

    // Start-up and shutdown only (no other thread is using the storage then).
    storage::Storage& direct() { return *storage_; }
    void stop() { pool_.join(); }

private:
    // The one place a closure crosses to the storage thread. call() names the closure here, outside any
    // co_await expression: GCC 12 destroys a closure temporary in a co_await expression twice.
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F, storage::Storage&>> run(F f, std::string lane = {}) {
        // The result travels in an optional: set on the storage thread, read here once the handler ran.
        std::optional<std::invoke_result_t<F, storage::Storage&>> out;
        auto initiation = [this, &f, &out, lane = std::move(lane)](auto handler) mutable {
            // The coroutine's io_context counts the call as work until its answer is posted back: a thread with
            // nothing else to do keeps running rather than return while the storage thread works for it.
            auto work = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                            boost::asio::execution::outstanding_work.tracked);
            enqueue(std::move(lane), [this, fn = std::move(f), &out, h = std::move(handler), work = std::move(work)]() mutable {
                out.emplace(fn(*storage_));
                auto ex = boost::asio::get_associated_executor(h);
                boost::asio::post(ex, std::move(h));   // resume on the coroutine's own executor
            });
        };
        co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void()>(std::move(initiation),
                                                                                          boost::asio::use_awaitable);
        co_return std::move(*out);
    }

    struct Task {
        virtual ~Task() = default;
        virtual void run() = 0;
    };
    template <class Fn>
    struct TaskOf final : Task {
        explicit TaskOf(Fn f) : fn(std::move(f)) {}
        void run() override { fn(); }
        Fn fn;
    };

    template <class Fn>
    void enqueue(std::string lane, Fn fn) {
        {
            std::lock_guard lock(mu_);
            lanes_[lane].push_back(std::make_unique<TaskOf<Fn>>(std::move(fn)));
        }
        // One drain per task: the storage thread runs exactly as many calls as were queued.
        boost::asio::post(pool_.get_executor(), [this] { run_next(); });
    }

    // The front call of the next non-empty lane after the one served last.
    void run_next() {
        std::unique_ptr<Task> task;
        {
            std::lock_guard lock(mu_);
            auto it = lanes_.upper_bound(last_lane_);
            if (it == lanes_.end()) it = lanes_.begin();
            if (it == lanes_.end()) return;
            last_lane_ = it->first;
            task = std::move(it->second.front());
            it->second.pop_front();
            if (it->second.empty()) lanes_.erase(it);
        }
        task->run();
    }

    boost::asio::thread_pool pool_;
    std::unique_ptr<storage::Storage> storage_;
    std::mutex mu_;
    std::map<std::string, std::deque<std::unique_ptr<Task>>> lanes_;   // only lanes with waiting calls
    std::string last_lane_;
};

}  // namespace rollout_mcp
