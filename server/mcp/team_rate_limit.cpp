// Token bucket with reservations (see team_rate_limit.hpp).
#include "server/mcp/team_rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace rollout_mcp {

TeamRateLimiter::Decision TeamRateLimiter::acquire(const std::string& team, Clock::time_point now) {
    Decision d;
    if (settings_.requests_per_second <= 0) return d;
    const double rate = settings_.requests_per_second;
    std::lock_guard lock(mu_);
    auto [it, fresh] = buckets_.try_emplace(team);
    Bucket& b = it->second;
    if (fresh) b = Bucket{settings_.burst, now, 0};
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    if (elapsed > 0) {
        b.tokens = std::min(settings_.burst, b.tokens + elapsed * rate);
        b.at = now;
    }
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return d;
    }
    // This request's turn comes when the bucket has refilled to one token, after every earlier promise.
    const double wait_s = (1 - b.tokens) / rate;
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

void TeamRateLimiter::done_waiting(const std::string& team) {
    std::lock_guard lock(mu_);
    auto it = buckets_.find(team);
    if (it != buckets_.end() && it->second.waiting > 0) --it->second.waiting;
}

}  // namespace rollout_mcp
