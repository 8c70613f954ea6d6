// The local side of the per-team Rollout rate (see rollout_rate.hpp).
#include "server/sync/rollout_rate.hpp"

#include <algorithm>
#include <cmath>

namespace rollout_mcp {

std::int64_t RolloutRateSettings::lease_size() const {
    const double window = per_second * static_cast<double>(lease_window.count()) / 1000.0;
    // Bounded before the conversion: per_second is at most 1e6 (the config loader checks), burst at most 1e6.
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(std::min(window, 1e6))), 1, std::max<std::int64_t>(1, burst));
}

RolloutRateBook::Step RolloutRateBook::next(const std::string& team, std::int64_t now_ms, std::int64_t deadline_ms) {
    Team& t = teams_[team];
    Step step;
    if (t.tokens > 0 && now_ms >= t.expires_at) t.tokens = 0;
    if (now_ms < t.blocked_until) {
        if (t.blocked_until > deadline_ms) {
            step.kind = Step::Kind::refuse;
            step.retry_after = std::chrono::seconds(std::max<std::int64_t>(1, (t.blocked_until - now_ms + 999) / 1000));
        } else {
            step.kind = Step::Kind::wait;
            step.until_ms = t.blocked_until;
        }
        return step;
    }
    if (t.tokens > 0) {
        --t.tokens;
        return step;
    }
    if (t.leasing) {   // another request of the team is asking the bucket: its answer wakes this one
        if (now_ms >= deadline_ms) {
            step.kind = Step::Kind::refuse;
            step.retry_after = std::chrono::seconds(1);
        } else {
            step.kind = Step::Kind::wait;
            step.until_ms = deadline_ms;
        }
        return step;
    }
    t.leasing = true;
    step.kind = Step::Kind::lease;
    step.wanted = settings_.lease_size();
    return step;
}

void RolloutRateBook::leased(const std::string& team, std::int64_t now_ms, const storage::RateLease& lease) {
    Team& t = teams_[team];
    t.leasing = false;
    if (now_ms < t.blocked_until) return;   // a 429 came meanwhile: the grant is dropped, not spent
    if (lease.granted > 0) {
        t.tokens += lease.granted;
        t.expires_at = now_ms + settings_.lease_lifetime.count();
    } else {
        t.blocked_until = std::max({t.blocked_until, lease.next_token_at_ms, now_ms + 1});   // never a tight loop
    }
}

void RolloutRateBook::lease_failed(const std::string& team, std::int64_t now_ms) {
    Team& t = teams_[team];
    t.leasing = false;
    t.blocked_until = std::max(t.blocked_until, now_ms + 1'000);
}

void RolloutRateBook::paused(const std::string& team, std::int64_t until_ms) {
    Team& t = teams_[team];
    t.tokens = 0;
    t.blocked_until = std::max(t.blocked_until, until_ms);
}

}  // namespace rollout_mcp
