// The per-team Rollout request rate, as one process sees it (docs/ARCHITECTURE.md, "Rollout request rate"):
// Rollout limits each tenant (here: each team) to about 50 requests/s (/work/shared/research/rollout-api.md,
// section 3), and several instances may call Rollout for one team. The bucket itself is a database row shared
// by every instance (storage/rate_buckets.hpp); RolloutRateBook is what one instance keeps of it: the few tokens
// it has leased and not spent yet, whether a lease is on its way, and until when the team must hold off (the
// bucket was empty, or Rollout answered 429). Pure and clock-injected: the async gate around it
// (rollout_rate_gate.hpp) does the waiting and the database calls, and the rules are tested without sleeping.
#pragma once

#include "storage/rate_buckets.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace rollout_mcp {

struct RolloutRateSettings {
    double per_second = 40;                          // [rollout] requests_per_second_per_team; 0: no gate
    std::int64_t burst = 10;                         // [rollout] request_burst_per_team
    std::chrono::milliseconds max_wait{2'000};       // [rollout] max_rate_wait_ms; longer waits are refused
    // One lease takes about this much of the rate (at least one token, at most the burst): a team well under
    // its rate costs one database round trip per lease, never one per request.
    std::chrono::milliseconds lease_window{100};
    // Leased tokens not spent by then are dropped: an instance holds at most one lease's worth for a short
    // while, so a 429 pause recorded by another instance holds this one within that.
    std::chrono::milliseconds lease_lifetime{2'000};
    std::chrono::seconds default_pause{1};           // a 429 without a usable Retry-After (Rollout's window: 1 s)
    std::chrono::seconds max_pause{300};             // a longer Retry-After still delays the job, not the team
    bool enabled() const { return per_second > 0; }
    storage::RateBucket bucket() const { return {per_second, burst}; }
    std::int64_t lease_size() const;
};

class RolloutRateBook {
public:
    struct Step {
        enum class Kind { send, lease, wait, refuse } kind = Kind::send;
        std::int64_t wanted = 0;              // lease: tokens to ask the bucket for, then report leased()
        std::int64_t until_ms = 0;            // wait: look again then, or when wake-up comes earlier
        std::chrono::seconds retry_after{0};  // refuse: when the team may be let through again (at least 1 s)
    };

    explicit RolloutRateBook(RolloutRateSettings settings) : settings_(settings) {}
    // One look for a request of `team` that may wait until `deadline_ms`: send now (a token is spent), lease
    // (this caller asks the bucket; the others wait for it), wait, or refuse (the wait would pass the deadline).
    Step next(const std::string& team, std::int64_t now_ms, std::int64_t deadline_ms);
    // The answer to a Step::lease.
    void leased(const std::string& team, std::int64_t now_ms, const storage::RateLease& lease);
    void lease_failed(const std::string& team, std::int64_t now_ms);   // the team holds off a second
    // Rollout answered 429: nothing of the team goes out before `until_ms`; unspent tokens are dropped.
    void paused(const std::string& team, std::int64_t until_ms);

private:
    struct Team {
        std::int64_t tokens = 0;          // leased, not spent
        std::int64_t expires_at = 0;      // ... and dropped at this time
        std::int64_t blocked_until = 0;   // the bucket was empty, or a pause
        bool leasing = false;             // one lease at a time per team
    };
    const RolloutRateSettings settings_;
    std::unordered_map<std::string, Team> teams_;   // one per team that called Rollout: bounded by the tenants
};

}  // namespace rollout_mcp
