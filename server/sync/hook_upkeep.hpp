// Keeping CRM changes flowing when webhooks do not (issue 20; README, "Changes from the CRM"), on every instance:
// - reconcile: connections without a working webhook subscription (Rollout refused it, Rollout was down, or the
//   connection predates [server] public_url) are subscribed again, each claimed in the database so one instance
//   tries it at a time (Storage::claim_unsubscribed_connections), every `reconcile_every`;
// - poll: the ledger records of connections that are not subscribed (all of them without a public_url) are
//   re-read, least recently checked first, as synthetic "<collection>Updated" inbox rows that the HookProcessor
//   fetches and compares like a delivery (Storage::enqueue_ledger_polls). A round every `poll_every` takes at most
//   `poll_share` of the team's Rollout rate for that period, and no record more often than `min_recheck`.
#pragma once

#include "server/sync/hook_processor.hpp"
#include "server/sync/hook_subscriptions.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>

namespace rollout_mcp {

struct HookUpkeepSettings {
    double requests_per_second_per_team = 40;            // [rollout] requests_per_second_per_team
    double poll_share = 0.1;                              // of that rate, for polling
    std::chrono::milliseconds poll_every{5000};
    std::chrono::milliseconds min_recheck{60'000};
    std::chrono::milliseconds reconcile_every{60'000};
    // A connection tried again at most this often; a subscribed one's subscriptions are checked at Rollout as often.
    std::chrono::milliseconds reconcile_lease{300'000};
};

class HookUpkeep {
public:
    HookUpkeep(StorageExecutor& storage, HookSubscriptions& subscriptions, HookProcessor& processor,
               HookUpkeepSettings settings);
    ~HookUpkeep();
    HookUpkeep(const HookUpkeep&) = delete;
    HookUpkeep& operator=(const HookUpkeep&) = delete;

    void start(boost::asio::any_io_executor io);   // a reconcile and a poll round at once, then on their timers
    void stop();

    struct State;

private:
    std::shared_ptr<State> state_;
};

}  // namespace rollout_mcp
