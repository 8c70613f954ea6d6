// What this instance does with a PostgreSQL notification from another one (storage/postgres_listener.hpp; README
// "Several instances on PostgreSQL"): queued jobs wake the worker; a job changed elsewhere (queued, attempted,
// cancelled) reaches this instance's watchers of that job (waiting tool calls, subscriptions/listen streams); a
// gap in what was heard wakes the worker and re-reads every watched job; another instance's tool-list change
// reaches this instance's listen streams, and this instance's own announcement is not delivered twice.
#pragma once

#include "server/sync/sync_worker.hpp"
#include "storage/storage_executor.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace rollout_mcp {

struct InstanceNotifications {
    SyncWorker* worker = nullptr;
    std::string instance_id;                    // random, per process: tells its own announcements apart
    std::function<void()> tools_list_changed;   // delivers to this instance's listen streams only
};

// A fresh random instance id (32 hex characters; carried in tools-changed payloads, never a secret).
std::string new_instance_id();

void hear_outbox_notification(SyncWorker& worker, std::string_view channel, std::string_view payload);
void hear_instance_notification(const InstanceNotifications& to, std::string_view channel, std::string_view payload);

// Tells the other instances that the tool list changed (PostgreSQL; nothing on SQLite), on the storage thread.
void announce_tools_list_changed(StorageExecutor& storage, const std::string& instance_id);

}  // namespace rollout_mcp
