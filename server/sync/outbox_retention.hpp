// The outbox's retention pass (README "Retention"): old finished jobs (each leaves a tombstone), unreferenced
// payloads, old idempotency keys and tombstones, deleted in small transactions so other teams' storage work runs
// between them. The scheduler runs it hourly between scans.
#pragma once

#include "server/app/config.hpp"
#include "storage/storage_executor.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>

namespace rollout_mcp {

// Purges in transactions of at most 500 rows for at most 250 ms. True when it stopped with more to purge (its time
// slice ended, or `stopping` was set): call it again soon. False when done, or when a batch failed (logged; the
// next hourly pass tries again).
boost::asio::awaitable<bool> purge_outbox_slice(StorageExecutor& storage, const SyncSettings& settings,
                                                std::int64_t now_ms, const std::atomic<bool>& stopping);

}  // namespace rollout_mcp
