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

// The defaults of [mcp] requests_per_second_per_team, request_burst_per_team, max_pace_wait_ms and
// max_paced_requests_per_team (config.example.toml).
struct TeamRateSettings {
    double requests_per_second = 100;   // 0: no limit; else at least 0.001 (the config loader checks)
    double burst = 200;                 // requests a quiet team may send at once
    std::chrono::milliseconds max_wait{1'000};
    std::size_t max_waiting = 32;       // a team's requests paced at once; more are refused
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
    // Takes `calls` more tokens without waiting (the rest of a JSON-RPC batch: pacing counts calls, not
    // POSTs). The bucket may go below zero; the team's next requests then wait or are refused.
    void charge(const std::string& team, std::size_t calls, Clock::time_point now);

private:
    struct Bucket {
        double tokens = 0;   // may go below zero: requests already promised a later turn
        Clock::time_point at{};
        std::size_t waiting = 0;
    };
    Bucket& refilled(const std::string& team, Clock::time_point now);   // with mu_ held
    const TeamRateSettings settings_;
    std::mutex mu_;
    std::unordered_map<std::string, Bucket> buckets_;   // one per authenticated team: bounded by the tenants
};

}  // namespace rollout_mcp
