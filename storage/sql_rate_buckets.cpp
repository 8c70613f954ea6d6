// SqlStorage: the per-team Rollout rate buckets (storage/rate_buckets.hpp). A lease is one UPDATE ... RETURNING:
// the refill, the grant and the debit are computed from the row as it is when the statement runs, so two
// instances leasing at once are serialized by the row lock (PostgreSQL) or the write lock (SQLite), and the
// tokens granted in all never exceed what the bucket held. Integer arithmetic only, identical on both engines.
#include "storage/sql_storage.hpp"

#include <algorithm>
#include <cmath>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;

std::int64_t RateBucket::micro_per_ms() const {
    // tokens/s x 1,000,000 / 1,000 ms; the config keeps per_second within [0.001, 1e6], so this is 1 .. 1e9.
    return std::max<std::int64_t>(1, std::llround(per_second * 1000.0));
}

namespace {

// ?1 tenant, ?2 now (ms), ?3 millionths per ms, ?4 capacity (millionths), ?5 fill time (ms), ?6 tokens wanted.
// refill_at is when `level` was counted; in the future it is a pause (a 429), before which nothing refills.
#define RMCP_ELAPSED "(CASE WHEN ?2 - refill_at > ?5 THEN ?5 WHEN ?2 > refill_at THEN ?2 - refill_at ELSE 0 END)"
#define RMCP_LEVEL \
    "(CASE WHEN level + " RMCP_ELAPSED " * ?3 > ?4 THEN ?4 ELSE level + " RMCP_ELAPSED " * ?3 END)"
#define RMCP_GRANT "(CASE WHEN " RMCP_LEVEL " / 1000000 > ?6 THEN ?6 ELSE " RMCP_LEVEL " / 1000000 END)"
// SET expressions all read the row as it was (SQL semantics, on both engines); RETURNING reads it as written.
constexpr const char* kLease =
    "UPDATE rollout_rate_buckets SET"
    " last_grant = " RMCP_GRANT ","
    " level = " RMCP_LEVEL " - " RMCP_GRANT " * 1000000,"
    " refill_at = CASE WHEN ?2 > refill_at THEN ?2 ELSE refill_at END"
    " WHERE tenant_id = ?1 RETURNING last_grant, level, refill_at";
#undef RMCP_GRANT
#undef RMCP_LEVEL
#undef RMCP_ELAPSED

}  // namespace

Result<RateLease> SqlStorage::lease_rate_tokens(std::string_view tenant_id, const RateBucket& bucket,
                                                std::int64_t wanted, std::int64_t now_ms) {
    if (!(bucket.per_second >= 0.001) || bucket.burst < 1 || bucket.burst > 1'000'000 || wanted < 1)
        return error(ErrorCode::invalid_argument, "a rate bucket needs a rate of at least 0.001/s, a burst of "
                                                  "1 to 1,000,000 and at least one token wanted");
    return guarded<RateLease>("lease rate tokens", [&]() -> Result<RateLease> {
        for (int pass = 0; pass < 2; ++pass) {
            {
                auto st = db_->cached(kLease);
                st->bind(1, tenant_id).bind(2, now_ms).bind(3, bucket.micro_per_ms()).bind(4, bucket.micro_burst());
                st->bind(5, bucket.fill_ms()).bind(6, wanted);
                if (st->step()) {
                    RateLease out;
                    out.granted = st->int64(0);
                    const std::int64_t level = st->int64(1), counted_at = st->int64(2);
                    st->run();   // the statement's end (SQLite commits its implicit transaction here)
                    if (out.granted == 0) {
                        const std::int64_t missing = std::max<std::int64_t>(0, kMicroTokens - level);
                        const std::int64_t per_ms = bucket.micro_per_ms();
                        out.next_token_at_ms = counted_at + (missing + per_ms - 1) / per_ms;
                    }
                    return out;
                }
            }
            // The team's first lease: a full bucket (another instance may have made it meanwhile).
            auto ins = db_->cached(
                "INSERT INTO rollout_rate_buckets(tenant_id, level, refill_at, last_grant) VALUES (?1, ?2, ?3, 0)"
                " ON CONFLICT(tenant_id) DO NOTHING");
            ins->bind(1, tenant_id).bind(2, bucket.micro_burst()).bind(3, now_ms);
            ins->run();
        }
        return error(ErrorCode::not_found, "no Rollout rate bucket for this team");
    });
}

Result<void> SqlStorage::pause_rate_bucket(std::string_view tenant_id, std::int64_t until_ms) {
    return guarded<void>("pause rate bucket", [&]() -> Result<void> {
        auto st = db_->cached(
            "INSERT INTO rollout_rate_buckets(tenant_id, level, refill_at, last_grant) VALUES (?1, 0, ?2, 0)"
            " ON CONFLICT(tenant_id) DO UPDATE SET level = 0, refill_at = CASE"
            " WHEN excluded.refill_at > rollout_rate_buckets.refill_at THEN excluded.refill_at"
            " ELSE rollout_rate_buckets.refill_at END");
        st->bind(1, tenant_id).bind(2, until_ms);
        st->run();
        return {};
    });
}

}  // namespace rollout_mcp::storage
