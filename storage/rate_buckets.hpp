// One token bucket per team for its Rollout requests (rollout_rate_buckets), shared by every instance on the
// database: an instance leases a few tokens at a time in one atomic UPDATE, and a 429 empties the team's bucket
// until Rollout's Retry-After, for every instance (docs/ARCHITECTURE.md, "Rollout request rate").
//
// Tokens are counted in millionths, as integers, so the same SQL text runs on SQLite and PostgreSQL (no
// floating point, no FLOOR/LEAST) and every instance computes the same grant.
#pragma once

#include <cstdint>

namespace rollout_mcp::storage {

inline constexpr std::int64_t kMicroTokens = 1'000'000;   // one token

struct RateBucket {
    double per_second = 0;     // refill rate; at least 0.001 ([rollout] requests_per_second_per_team)
    std::int64_t burst = 1;    // capacity in tokens, at least 1
    // The same rate in the integers the SQL uses: millionths of a token per millisecond (at least 1), the
    // capacity in millionths, and the refill time after which a bucket is full (elapsed time is capped at it, so
    // nothing overflows after a long quiet spell).
    std::int64_t micro_per_ms() const;
    std::int64_t micro_burst() const { return burst * kMicroTokens; }
    std::int64_t fill_ms() const { return micro_burst() / micro_per_ms() + 1; }
};

struct RateLease {
    std::int64_t granted = 0;           // tokens taken from the bucket (0 .. wanted)
    std::int64_t next_token_at_ms = 0;  // granted == 0: when the bucket will hold one token again
};

}  // namespace rollout_mcp::storage
