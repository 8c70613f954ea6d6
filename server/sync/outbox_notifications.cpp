#include "server/sync/outbox_notifications.hpp"

#include "storage/postgres_listener.hpp"

namespace rollout_mcp {

void hear_outbox_notification(SyncWorker& worker, std::string_view channel, std::string_view payload) {
    if (channel == storage::kSessionEndedChannel) return;   // the session store's (server/http/shared_session_store.hpp)
    if (channel != storage::kJobAttemptChannel) {
        worker.wake();
        return;
    }
    while (!payload.empty()) {
        const auto comma = payload.find(',');
        worker.attempt_recorded_elsewhere(std::string(payload.substr(0, comma)));
        payload.remove_prefix(comma == std::string_view::npos ? payload.size() : comma + 1);
    }
}

}  // namespace rollout_mcp
