// The outbox's retention pass (server/sync/outbox_retention.hpp).
#include "server/sync/outbox_retention.hpp"

#include "server/app/log.hpp"

#include <chrono>

namespace rollout_mcp {
namespace {

constexpr std::size_t kPurgeBatchRows = 500;             // rows per purge transaction
constexpr std::chrono::milliseconds kPurgeSlice{250};    // purge time per scheduling pass
constexpr std::chrono::hours kKeepTombstones{90 * 24};   // purged job ids answer "expired"

}  // namespace

boost::asio::awaitable<bool> purge_outbox_slice(StorageExecutor& storage, const SyncSettings& settings,
                                                std::int64_t now_ms, const std::atomic<bool>& stopping) {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    storage::PurgePolicy policy;
    policy.succeeded_before_ms = now_ms - duration_cast<milliseconds>(settings.keep_succeeded).count();
    policy.failed_before_ms = now_ms - duration_cast<milliseconds>(settings.keep_failed).count();
    policy.requests_before_ms = now_ms - duration_cast<milliseconds>(settings.keep_idempotency).count();
    policy.tombstones_before_ms = now_ms - duration_cast<milliseconds>(kKeepTombstones).count();
    const auto slice_end = std::chrono::steady_clock::now() + kPurgeSlice;
    storage::PurgeProgress total;
    bool unfinished = true;
    while (!stopping) {
        auto step = co_await storage.call(&storage::Storage::purge_sync_batch, policy, now_ms, kPurgeBatchRows);
        if (!step) {
            log::warning("cannot purge the sync outbox", {{"error", step.error().message}});
            unfinished = false;   // try again at the next hourly pass
            break;
        }
        total.jobs += step->jobs;
        total.payloads += step->payloads;
        total.requests += step->requests;
        total.tombstones += step->tombstones;
        if (step->done) {
            unfinished = false;
            break;
        }
        if (std::chrono::steady_clock::now() >= slice_end) break;
    }
    if (total.rows() > 0)
        log::info("purged the sync outbox", {{"jobs", static_cast<std::int64_t>(total.jobs)},
                                             {"payloads", static_cast<std::int64_t>(total.payloads)},
                                             {"idempotency_keys", static_cast<std::int64_t>(total.requests)},
                                             {"tombstones", static_cast<std::int64_t>(total.tombstones)}});
    co_return unfinished;
}

}  // namespace rollout_mcp
