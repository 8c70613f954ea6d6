#include "server/sync/outbox_notifications.hpp"

#include "server/app/log.hpp"
#include "storage/postgres_listener.hpp"

#include <sodium.h>

#include <vector>

namespace rollout_mcp {

namespace {

std::vector<std::string> split_ids(std::string_view payload) {
    std::vector<std::string> ids;
    while (!payload.empty()) {
        const auto comma = payload.find(',');
        if (comma != 0) ids.emplace_back(payload.substr(0, comma));
        payload.remove_prefix(comma == std::string_view::npos ? payload.size() : comma + 1);
    }
    return ids;
}

}  // namespace

std::string new_instance_id() {
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    char hex[2 * sizeof raw + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    return hex;
}

void hear_outbox_notification(SyncWorker& worker, std::string_view channel, std::string_view payload) {
    if (channel.empty()) {   // a gap: whatever was sent meanwhile is lost
        worker.wake();
        worker.notifications_gap();
        return;
    }
    if (channel == storage::kJobsQueuedChannel) worker.wake();
    if (channel == storage::kJobsQueuedChannel || channel == storage::kJobAttemptChannel)
        worker.jobs_changed(split_ids(payload));   // read back only if someone here watches one
}

void hear_instance_notification(const InstanceNotifications& to, std::string_view channel, std::string_view payload) {
    if (channel == storage::kToolsChangedChannel) {
        // Our own announcement comes back too: our streams heard it when it was made.
        if (payload != to.instance_id && to.tools_list_changed) to.tools_list_changed();
        return;
    }
    // A gap may also have lost a tool-list change: a spurious list_changed costs a client one tools/list.
    if (channel.empty() && to.tools_list_changed) to.tools_list_changed();
    if (to.worker) hear_outbox_notification(*to.worker, channel, payload);
}

void announce_tools_list_changed(StorageExecutor& storage, const std::string& instance_id) {
    storage.post([instance_id](storage::Storage& s) {
        if (auto r = s.notify_instances(storage::kToolsChangedChannel, instance_id); !r)
            log::warning("cannot tell the other instances that the tool list changed", {{"error", r.error().message}});
    });
}

}  // namespace rollout_mcp
