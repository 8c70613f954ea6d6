// Token bucket with reservations (see team_rate_limit.hpp).
#include "server/mcp/team_rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace rollout_mcp {

TeamRateLimiter::Bucket& TeamRateLimiter::refilled(const std::string& team, Clock::time_point now) {
    auto [it, fresh] = buckets_.try_emplace(team);
    Bucket& b = it->second;
    if (fresh) b = Bucket{settings_.burst, now, 0};
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    if (elapsed > 0) {   // a clock that went back refills nothing
        b.tokens = std::min(settings_.burst, b.tokens + elapsed * settings_.requests_per_second);
        b.at = now;
    }
    return b;
}

TeamRateLimiter::Decision TeamRateLimiter::acquire(const std::string& team, Clock::time_point now) {
    Decision d;
    if (settings_.requests_per_second <= 0) return d;
    const double rate = settings_.requests_per_second;
    std::lock_guard lock(mu_);
    Bucket& b = refilled(team, now);
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return d;
    }
    // This request's turn comes when the bucket has refilled to one token, after every earlier promise.
    // Bounded before any conversion to an integer (a huge debt or a tiny rate must not overflow).
    const double wait_s = std::min((1 - b.tokens) / rate, 86'400.0);
    const auto wait = std::chrono::milliseconds(static_cast<long long>(std::ceil(wait_s * 1000)));
    if (wait <= settings_.max_wait && b.waiting < settings_.max_waiting) {
        b.tokens -= 1;
        ++b.waiting;
        d.kind = Decision::Kind::wait;
        d.wait = wait;
        return d;
    }
    d.kind = Decision::Kind::refuse;
    d.retry_after = std::chrono::seconds(std::max<long long>(1, static_cast<long long>(std::ceil(wait_s))));
    return d;
}

void TeamRateLimiter::charge(const std::string& team, std::size_t calls, Clock::time_point now) {
    if (settings_.requests_per_second <= 0 || calls == 0) return;
    std::lock_guard lock(mu_);
    Bucket& b = refilled(team, now);
    // A debt of at most one day's tokens: the team is refused for a day at worst, never forever.
    b.tokens = std::max(b.tokens - static_cast<double>(calls), -86'400.0 * settings_.requests_per_second);
}

void TeamRateLimiter::done_waiting(const std::string& team) {
    std::lock_guard lock(mu_);
    auto it = buckets_.find(team);
    if (it != buckets_.end() && it->second.waiting > 0) --it->second.waiting;
}

}  // namespace rollout_mcp
