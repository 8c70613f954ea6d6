// Per-team request pacing for /mcp: a token bucket per team, checked right after the API key and before the
// body is parsed, so one team's flood costs the server little and cannot slow another team's calls.
// A request over the team's rate waits (a timer, no thread) while the wait is short and few of the team's
// requests are already waiting; otherwise it is refused with 429 and a Retry-After. Pure and clock-injected,
// so the rules are tested without sleeping.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace rollout_mcp {

struct TeamRateSettings {
    double requests_per_second = 50;   // 0: no limit
    double burst = 100;                // requests a quiet team may send at once
    std::chrono::milliseconds max_wait{1'000};
    std::size_t max_waiting = 16;      // a team's requests paced at once; more are refused
};

class TeamRateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    struct Decision {
        enum class Kind { admit, wait, refuse } kind = Kind::admit;
        std::chrono::milliseconds wait{0};     // Kind::wait: then call done_waiting(team)
        std::chrono::seconds retry_after{0};   // Kind::refuse: when one request would be admitted again
    };

    explicit TeamRateLimiter(TeamRateSettings settings) : settings_(settings) {}
    Decision acquire(const std::string& team, Clock::time_point now);
    void done_waiting(const std::string& team);

private:
    struct Bucket {
        double tokens = 0;   // may go below zero: requests already promised a later turn
        Clock::time_point at{};
        std::size_t waiting = 0;
    };
    const TeamRateSettings settings_;
    std::mutex mu_;
    std::unordered_map<std::string, Bucket> buckets_;   // one per authenticated team: bounded by the tenants
};

}  // namespace rollout_mcp
