// Group commit on the storage thread: calls that arrive while the storage thread is busy are done together by the
// first of them to run, at most a batch's worth per storage call, so they share one commit (README "Sync path CPU").
// Each caller still gets its own result. Used for attempt outcomes (finish_batch.hpp) and accepted syncs
// (enqueue_batch.hpp).
#pragma once

#include "storage/storage_executor.hpp"

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace rollout_mcp {

// Out is a Result<...>: a caller whose item was never run (cannot happen, see run_waiting) gets a database error.
template <class Item, class Out>
class StorageBatch {
public:
    // On the storage thread: one Out per item, in the items' order.
    using Run = std::function<std::vector<Out>(storage::Storage&, std::vector<Item>&)>;

    StorageBatch(StorageExecutor& storage, std::size_t max_batch, Run run)
        : storage_(storage), queue_(std::make_shared<Queue>()) {
        queue_->max_batch = std::max<std::size_t>(1, max_batch);
        queue_->run = std::move(run);
    }

    // Does `item` with the others waiting when the storage thread gets to it, in the storage lane `lane` ("" for
    // none). Await it at once: both are taken by reference (a by-value coroutine parameter is a temporary GCC 12
    // destroys twice inside a co_await), and `item` is moved from when the coroutine first runs.
    boost::asio::awaitable<Out> submit(Item&& item, const std::string& lane) {
        auto mine = std::make_shared<Slot>(Slot{std::move(item), std::nullopt});
        {
            std::lock_guard lock(queue_->mu);
            queue_->waiting.push_back(mine);
        }
        auto result = co_await storage_.call_in(lane, &StorageBatch::run_waiting, queue_, mine);
        co_return result;
    }

private:
    struct Slot {
        Item item;
        std::optional<Out> result;   // set on the storage thread
    };
    struct Queue {
        std::mutex mu;
        std::vector<std::shared_ptr<Slot>> waiting;
        std::size_t max_batch = 1;
        Run run;
    };

    // On the storage thread: unless an earlier call already did `mine` (the storage thread runs one call at a time,
    // so that call has finished), does it with up to max_batch - 1 others waiting, in arrival order (only itself where
    // the store does not share commits); returns its result.
    static Out run_waiting(storage::Storage& s, std::shared_ptr<Queue> queue, std::shared_ptr<Slot> mine) {
        std::vector<std::shared_ptr<Slot>> batch;
        {
            std::lock_guard lock(queue->mu);
            auto& waiting = queue->waiting;
            const auto own = std::find(waiting.begin(), waiting.end(), mine);
            if (own != waiting.end()) {
                const std::size_t limit = s.shares_commits() ? queue->max_batch : 1;
                for (auto it = waiting.begin(); it != own && batch.size() + 1 < limit; ++it) batch.push_back(*it);
                batch.push_back(mine);
                for (auto it = own + 1; it != waiting.end() && batch.size() < limit; ++it) batch.push_back(*it);
                for (const auto& slot : batch) waiting.erase(std::find(waiting.begin(), waiting.end(), slot));
            }
        }
        if (!batch.empty()) {
            std::vector<Item> items;
            items.reserve(batch.size());
            for (auto& slot : batch) items.push_back(std::move(slot->item));
            try {
                auto results = queue->run(s, items);
                for (std::size_t i = 0; i < batch.size() && i < results.size(); ++i) batch[i]->result = std::move(results[i]);
            } catch (const std::exception& e) {   // every caller of the batch hears it, not only the first
                for (auto& slot : batch) slot->result = Out(Error{storage::ErrorCode::database, e.what()});
            }
        }
        if (!mine->result) return Error{storage::ErrorCode::database, "not done: the storage call was lost"};
        return std::move(*mine->result);
    }

    StorageExecutor& storage_;
    std::shared_ptr<Queue> queue_;
};

}  // namespace rollout_mcp
