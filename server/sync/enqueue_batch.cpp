// EnqueueBatch (server/sync/enqueue_batch.hpp).
#include "server/sync/enqueue_batch.hpp"

#include <chrono>

namespace rollout_mcp {

EnqueueBatch::EnqueueBatch(StorageExecutor& storage) : batch_(storage, kMaxBatch, &EnqueueBatch::run) {}

boost::asio::awaitable<Result<WatchedEnqueue>> EnqueueBatch::enqueue(EnqueueCall&& call, const std::string& lane) {
    auto result = co_await batch_.submit(std::move(call), lane);
    co_return result;
}

std::vector<Result<WatchedEnqueue>> EnqueueBatch::run(storage::Storage& s, std::vector<EnqueueCall>& calls) {
    std::vector<storage::SyncRequest> requests;
    requests.reserve(calls.size());
    std::size_t settled = 0;   // calls[0, settled) had their settle; the rest still hold reserved places
    struct SettleTheRest {     // an exception (bad_alloc) must not leak places: they go back, and claims expire
        std::vector<EnqueueCall>& calls;
        std::vector<storage::SyncRequest>& requests;
        std::size_t& settled;
        ~SettleTheRest() {
            for (; settled < requests.size(); ++settled) calls[settled].intake.settle(requests[settled], nullptr);
        }
    } guard{calls, requests, settled};
    for (auto& c : calls) {
        c.intake.reserve(c.request);
        requests.push_back(std::move(c.request));
    }
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    auto accepted = s.enqueue_syncs(requests, now);
    std::vector<Result<WatchedEnqueue>> out;
    out.reserve(calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) {
        auto& call = calls[i];
        if (i >= accepted.size() || !accepted[i]) {
            out.push_back(i < accepted.size() ? accepted[i].error() : Error{storage::ErrorCode::database, "not enqueued"});
            settled = i + 1;
            call.intake.settle(requests[i], nullptr);   // the reserved places go back
            continue;
        }
        WatchedEnqueue w{std::move(*accepted[i]), nullptr};
        // The watch first: the claimed jobs start in settle and may finish at once.
        if (call.listener) w.watch = call.watcher(w.accepted.job_ids, call.listener);
        w.all_started = w.accepted.claimed.size() == w.accepted.job_ids.size();
        settled = i + 1;
        call.intake.settle(requests[i], &w.accepted);
        w.accepted.claimed.clear();
        out.push_back(std::move(w));
    }
    return out;
}

}  // namespace rollout_mcp
