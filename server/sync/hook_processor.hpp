// Processing of Rollout's webhook deliveries (issue 20; README, "Changes from the CRM"). The receiver
// (rollout_hooks.hpp) only stores a verified delivery; here each instance claims stored deliveries under a lease
// (Storage::claim_hook_events), fetches the records they name by resourceIds from the team's configured CRM base
// with that connection's own credential (the payload's `uri` is never followed), maps them back through the sync
// ledger (CRM id -> tour, visit, buyer), and compares each with the watched fields we last wrote or saw
// (rollout/crm_watch.hpp): equal is our own write echoed back, different is a typed change. The changes, the new
// watched state and "processed" commit in one transaction (Storage::finish_hook_event), so a crash at any point
// before it leaves the delivery to be claimed again when its lease ends: nothing is lost, nothing reported twice.
#pragma once

#include "server/sync/team_rollout.hpp"
#include "storage/storage_executor.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace rollout_mcp {

struct HookProcessorSettings {
    std::chrono::milliseconds poll{1000};        // a scan without a wake-up (deliveries stored by other instances)
    // A claim; a crash makes the delivery claimable after it. Long enough for the largest delivery (1,000 ids)
    // at the team's Rollout rate; a claim still queued here after half of it is left to lapse.
    std::chrono::milliseconds lease{300'000};
    std::size_t batch = 32;                      // deliveries claimed per scan
    // Failed rounds before a delivery is given up (logged, counted): with the backoff below about a day, so an
    // outage of Rollout or the CRM, or an expired authToken fixed within it, loses nothing.
    std::int64_t max_attempts = 300;
    std::chrono::milliseconds backoff_base{2000};
    std::chrono::milliseconds backoff_max{300'000};
    std::chrono::milliseconds defer{2000};       // a sync of ours is writing the same records: look again then
};

class HookProcessor {
public:
    // `changed`: called (on an I/O thread) after changes were appended, to wake their delivery.
    HookProcessor(StorageExecutor& storage, TeamRollout& teams, HookProcessorSettings settings,
                  std::function<void()> changed);
    ~HookProcessor();
    HookProcessor(const HookProcessor&) = delete;
    HookProcessor& operator=(const HookProcessor&) = delete;

    void start(boost::asio::any_io_executor io);
    // No new claims; a delivery in flight finishes or lets its lease lapse.
    void stop();
    // Scan now (a delivery was stored on this instance).
    void wake();

    struct State;

private:
    std::shared_ptr<State> state_;
};

// Retention, one bounded round on the storage thread: changes older than `change_max_age` ([changes] max_age_s;
// the count cap applies on append), expired Events subscriptions, and processed webhook deliveries older than
// kKeepProcessedDeliveries (kept that long only to recognize Rollout's redeliveries).
inline constexpr std::chrono::hours kKeepProcessedDeliveries{7 * 24};
void trim_change_state(storage::Storage& storage, std::chrono::seconds change_max_age);

}  // namespace rollout_mcp
