// The receiver of Rollout's webhooks (issue 20; /work/shared/research/rollout-api.md section 4.1): a
// delivery to `<public_url path>/hooks/rollout/<route>` is authenticated by its route (which names one
// team's CRM connection) and its X-Rollout-Signature (rollout/webhook_signature.hpp, keyed with the team's
// webhook key, team_rollout.hpp), paced per route, and committed to the durable inbox before it is
// answered 2xx; a redelivery of the same eventId is answered 2xx without a new row. Nothing in the body is
// followed: its `uri` is never fetched (records are fetched later by resourceIds from the team's own CRM
// base). Answers: 404 unknown route, 429 over the route's rate, 401 unsigned, 403 forged, 400 not a
// Rollout notification, 503 store unavailable, 200 stored or duplicate. 413 is the HTTP layer's.
#pragma once

#include "server/app/hook_receiver.hpp"
#include "storage/storage_executor.hpp"

#include <functional>
#include <map>
#include <mutex>

namespace rollout_mcp {

struct HookLimits {
    double per_route_per_second = 20;   // deliveries a route may make per second, sustained
    double per_route_burst = 100;       // and in a burst (Rollout retries a backlog after an outage)
    std::size_t max_resource_ids = 1000;
};

class RolloutHookReceiver final : public HookReceiver {
public:
    explicit RolloutHookReceiver(StorageExecutor& storage, HookLimits limits = {});
    boost::asio::awaitable<HookAnswer> receive(HookRequest request) override;
    // Called after a new delivery was stored (to wake its processing: hook_processor.hpp). Set before serving.
    void on_stored(std::function<void()> stored) { stored_ = std::move(stored); }

private:
    // A token bucket per route (team + CRM); 0 when admitted, else the seconds until one token is back.
    std::chrono::seconds take_token(const std::string& route_key);

    StorageExecutor& storage_;
    const HookLimits limits_;
    std::function<void()> stored_;
    std::mutex mu_;
    struct Bucket {
        double tokens = 0;
        std::chrono::steady_clock::time_point at;
    };
    std::map<std::string, Bucket> buckets_;
};

}  // namespace rollout_mcp
