// What happens after one sync attempt (docs/ARCHITECTURE.md, "The outbox state machine"): succeed, retry later with
// exponential backoff and full jitter (never before Retry-After), fail at once (permanent), or die (retries
// exhausted).
#pragma once

#include "server/app/config.hpp"

#include "rollout/errors.hpp"
#include "storage/outbox.hpp"

#include <cstdint>
#include <functional>
#include <optional>

namespace rollout_mcp {

// Draws a uniform integer in [0, bound]; injectable so tests can pin the jitter.
using JitterSource = std::function<std::int64_t(std::int64_t bound)>;
JitterSource default_jitter();

// The backoff before attempt `attempts + 1`, given `attempts` already made (>= 1):
// random(0, min(max, base * 2^(attempts - 1))), at least retry_after when the server gave one, and at
// least 30 s for "not ready" (Rollout's own advice).
std::int64_t backoff_ms(const SyncSettings& settings, int attempts, const Error& error,
                        const JitterSource& jitter);

// Turns an attempt's error (none = success) into the outbox transition. `job` is the job as claimed
// (attempts includes this attempt).
storage::AttemptOutcome decide_next(const SyncSettings& settings, const storage::SyncJobInfo& job,
                                    const std::optional<Error>& error, std::int64_t now_ms,
                                    const JitterSource& jitter);

}  // namespace rollout_mcp
