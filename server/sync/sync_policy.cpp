// Retry policy of the sync outbox; pure functions of the attempt's outcome and the clock.
#include "server/sync/sync_policy.hpp"

#include <algorithm>
#include <random>

namespace rollout_mcp {

JitterSource default_jitter() {
    return [](std::int64_t bound) -> std::int64_t {
        if (bound <= 0) return 0;
        thread_local std::mt19937_64 rng{std::random_device{}()};
        return std::uniform_int_distribution<std::int64_t>(0, bound)(rng);
    };
}

std::int64_t backoff_ms(const SyncSettings& settings, int attempts, const Error& error,
                        const JitterSource& jitter) {
    const std::int64_t base = settings.backoff_base.count();
    const std::int64_t cap = settings.backoff_max.count();
    std::int64_t ceiling = base;
    for (int i = 1; i < attempts && ceiling < cap; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, cap);
    std::int64_t delay = jitter(ceiling);
    if (error.retry_after) delay = std::max<std::int64_t>(delay, error.retry_after->count() * 1000);
    if (error.code == rollout::ErrorKind::not_ready) delay = std::max<std::int64_t>(delay, 30'000);
    return delay;
}

storage::AttemptOutcome decide_next(const SyncSettings& settings, const storage::SyncJobInfo& job,
                                    const std::optional<Error>& error, std::int64_t now_ms,
                                    const JitterSource& jitter) {
    using Next = storage::AttemptOutcome::Next;
    storage::AttemptOutcome out;
    if (!error) {
        out.next = Next::succeed;
        return out;
    }
    out.error = error->describe();
    out.http_status = error->status;
    // An attempt that may have reached the CRM must look its records up by marker before creating, also
    // when it failed permanently (a 2xx that is not the expected JSON, an oversized reply, "created" without
    // an id): a later retry_sync starts from that doubt. The flag stays set until an attempt succeeds.
    out.recover = error->uncertain || job.recover;
    if (!rollout::retryable(*error)) {
        out.next = Next::fail;
        return out;
    }
    const auto next_at = now_ms + backoff_ms(settings, std::max(job.attempts, 1), *error, jitter);
    const auto age_limit = job.created_at_ms + std::chrono::duration_cast<std::chrono::milliseconds>(settings.max_age).count();
    // Refused here before anything was sent (the team's Rollout rate gate, a full host queue: rate_limited with
    // no HTTP status): it says nothing about the CRM, so it does not use up max_attempts; max_age still ends it.
    const bool sent_nothing = error->code == rollout::ErrorKind::rate_limited && error->status == 0;
    if ((!sent_nothing && job.attempts >= static_cast<int>(settings.max_attempts)) || next_at > age_limit) {
        out.next = Next::die;
        out.error = "gave up after " + std::to_string(job.attempts) + " attempt(s): " + out.error;
        return out;
    }
    out.next = Next::retry;
    out.next_attempt_at_ms = next_at;
    return out;
}

}  // namespace rollout_mcp
