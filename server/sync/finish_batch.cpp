// FinishBatch: one storage call per attempt, as before, but the first to run takes the attempts waiting then.
#include "server/sync/finish_batch.hpp"

#include <algorithm>

namespace rollout_mcp {

FinishBatch::FinishBatch(StorageExecutor& storage) : storage_(storage) {}

boost::asio::awaitable<Result<storage::SyncJobInfo>> FinishBatch::finish(storage::FinishAttempt&& attempt) {
    auto mine = std::make_shared<Slot>();
    mine->attempt = std::move(attempt);
    {
        std::lock_guard lock(queue_->mu);
        queue_->waiting.push_back(mine);
    }
    auto result = co_await storage_.call(&FinishBatch::record_waiting, queue_, mine);
    co_return result;
}

Result<storage::SyncJobInfo> FinishBatch::record_waiting(storage::Storage& s, std::shared_ptr<Queue> queue,
                                                         std::shared_ptr<Slot> mine) {
    std::vector<std::shared_ptr<Slot>> batch;
    {
        std::lock_guard lock(queue->mu);
        auto& waiting = queue->waiting;
        const auto own = std::find(waiting.begin(), waiting.end(), mine);
        if (own != waiting.end()) {   // not recorded yet: this one first, then the oldest others
            batch.push_back(mine);
            waiting.erase(own);
            const std::size_t more = std::min(waiting.size(), kMaxBatch - 1);
            batch.insert(batch.end(), waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(more));
            waiting.erase(waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(more));
        }
    }
    if (!batch.empty()) {
        std::vector<storage::FinishAttempt> attempts;
        attempts.reserve(batch.size());
        for (auto& slot : batch) attempts.push_back(std::move(slot->attempt));
        auto results = s.finish_sync_attempts(attempts);
        for (std::size_t i = 0; i < batch.size() && i < results.size(); ++i) batch[i]->result = std::move(results[i]);
    }
    // Cannot happen (see record_waiting's comment), but an empty result is never read: the claim is then left to
    // expire, as after any failure to record.
    if (!mine->result) return Error{storage::ErrorCode::database, "the attempt was not recorded"};
    return std::move(*mine->result);
}

}  // namespace rollout_mcp
