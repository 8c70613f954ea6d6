// What this instance does with a PostgreSQL notification from another one (storage/postgres_listener.hpp): queued
// jobs and a gap in what was heard wake the worker; a recorded attempt reaches this instance's watchers of that job.
#pragma once

#include "server/sync/sync_worker.hpp"

#include <string_view>

namespace rollout_mcp {

void hear_outbox_notification(SyncWorker& worker, std::string_view channel, std::string_view payload);

}  // namespace rollout_mcp
