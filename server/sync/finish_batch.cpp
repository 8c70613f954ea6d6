// FinishBatch: one storage call per attempt, as before, but the first to run records the attempts waiting then.
#include "server/sync/finish_batch.hpp"

#include <string>

namespace rollout_mcp {

FinishBatch::FinishBatch(StorageExecutor& storage)
    : batch_(storage, kMaxBatch, [](storage::Storage& s, std::vector<storage::FinishAttempt>& attempts) {
          return s.finish_sync_attempts(attempts);
      }) {}

boost::asio::awaitable<Result<storage::SyncJobInfo>> FinishBatch::finish(storage::FinishAttempt&& attempt) {
    static const std::string kNoLane;
    auto result = co_await batch_.submit(std::move(attempt), kNoLane);
    co_return result;
}

}  // namespace rollout_mcp
