// Runs Storage calls on one dedicated thread, so no I/O thread ever blocks on SQLite. Coroutines
// `co_await storage.run([](storage::Storage& s) { ... })` and resume on their own executor.
#pragma once

#include "storage/storage.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>
#include <type_traits>

namespace rollout_mcp {

class StorageExecutor {
public:
    explicit StorageExecutor(std::unique_ptr<storage::Storage> storage)
        : pool_(1), storage_(std::move(storage)) {}
    ~StorageExecutor() { pool_.join(); }
    StorageExecutor(const StorageExecutor&) = delete;
    StorageExecutor& operator=(const StorageExecutor&) = delete;

    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F, storage::Storage&>> run(F f) {
        // co_spawn needs a default-constructible result; Result<T> is not, so it travels in an optional.
        auto out = co_await boost::asio::co_spawn(pool_.get_executor(), invoke(std::move(f), storage_.get()),
                                                  boost::asio::use_awaitable);
        co_return std::move(*out);
    }

    // Fire-and-forget work on the storage thread (periodic maintenance).
    template <class F>
    void post(F f) {
        boost::asio::post(pool_.get_executor(), [f = std::move(f), s = storage_.get()]() mutable { f(*s); });
    }

    // Start-up and shutdown only (no other thread is using the storage then).
    storage::Storage& direct() { return *storage_; }
    void stop() { pool_.join(); }

private:
    template <class F>
    static boost::asio::awaitable<std::optional<std::invoke_result_t<F, storage::Storage&>>> invoke(
        F f, storage::Storage* storage) {
        co_return std::optional<std::invoke_result_t<F, storage::Storage&>>(f(*storage));
    }

    boost::asio::thread_pool pool_;
    std::unique_ptr<storage::Storage> storage_;
};

}  // namespace rollout_mcp
