// The retry policy (server/sync_policy): which errors retry, backoff with full jitter and its cap,
// Retry-After and "not ready" floors, the attempt and age limits, and the recover flag.
#include "server/sync/sync_policy.hpp"

#include <gtest/gtest.h>

namespace rollout_mcp {
namespace {
using rollout::ErrorKind;
using Next = storage::AttemptOutcome::Next;

SyncSettings settings() {
    SyncSettings s;
    s.backoff_base = std::chrono::milliseconds(1'000);
    s.backoff_max = std::chrono::milliseconds(60'000);
    s.max_attempts = 5;
    s.max_age = std::chrono::seconds(3'600);
    return s;
}

JitterSource top() { return [](std::int64_t bound) { return bound; }; }   // the ceiling itself
JitterSource bottom() { return [](std::int64_t) -> std::int64_t { return 0; }; }

storage::SyncJobInfo job(int attempts, std::int64_t created = 0) {
    storage::SyncJobInfo j;
    j.attempts = attempts;
    j.created_at_ms = created;
    return j;
}

TEST(SyncPolicy, BackoffDoublesUpToTheCapWithFullJitter) {
    const Error e{ErrorKind::transient, 503, "down"};
    EXPECT_EQ(backoff_ms(settings(), 1, e, top()), 1'000);
    EXPECT_EQ(backoff_ms(settings(), 2, e, top()), 2'000);
    EXPECT_EQ(backoff_ms(settings(), 4, e, top()), 8'000);
    EXPECT_EQ(backoff_ms(settings(), 30, e, top()), 60'000);
    EXPECT_EQ(backoff_ms(settings(), 3, e, bottom()), 0);
    auto real = default_jitter();
    for (int i = 0; i < 200; ++i) {
        const auto d = backoff_ms(settings(), 3, e, real);
        EXPECT_GE(d, 0);
        EXPECT_LE(d, 4'000);
    }
}

TEST(SyncPolicy, RetryAfterAndNotReadyAreFloors) {
    Error limited{ErrorKind::rate_limited, 429, "slow down"};
    limited.retry_after = std::chrono::seconds(7);
    EXPECT_EQ(backoff_ms(settings(), 1, limited, bottom()), 7'000);
    EXPECT_EQ(backoff_ms(settings(), 5, limited, top()), 16'000);   // the backoff is already longer
    EXPECT_EQ(backoff_ms(settings(), 1, Error{ErrorKind::not_ready, 409, "not ready"}, bottom()), 30'000);
}

TEST(SyncPolicy, TransientErrorsRetryPermanentOnesFail) {
    for (auto kind : {ErrorKind::transient, ErrorKind::rate_limited, ErrorKind::not_ready}) {
        auto out = decide_next(settings(), job(1), Error{kind, 500, "x"}, 10'000, bottom());
        EXPECT_EQ(out.next, Next::retry);
        EXPECT_GE(out.next_attempt_at_ms, 10'000);
    }
    for (auto kind : {ErrorKind::auth, ErrorKind::validation, ErrorKind::not_found, ErrorKind::permanent}) {
        auto out = decide_next(settings(), job(1), Error{kind, 400, "lastName is required"}, 10'000, bottom());
        EXPECT_EQ(out.next, Next::fail);
        EXPECT_NE(out.error.find("lastName is required"), std::string::npos) << out.error;
        EXPECT_EQ(out.http_status, 400u);
    }
    EXPECT_EQ(decide_next(settings(), job(1), std::nullopt, 10'000, bottom()).next, Next::succeed);
}

TEST(SyncPolicy, DiesAfterMaxAttemptsOrMaxAge) {
    const Error e{ErrorKind::transient, 502, "bad gateway"};
    EXPECT_EQ(decide_next(settings(), job(4), e, 10'000, bottom()).next, Next::retry);
    auto out = decide_next(settings(), job(5), e, 10'000, bottom());
    EXPECT_EQ(out.next, Next::die);
    EXPECT_NE(out.error.find("gave up after 5 attempt(s)"), std::string::npos) << out.error;
    // Created an hour ago: the next attempt would be past max_age.
    EXPECT_EQ(decide_next(settings(), job(1, 0), e, 3'600'000, top()).next, Next::die);
}

TEST(SyncPolicy, ARefusalBeforeSendingDoesNotUseUpAttemptsButAgeStillEndsIt) {
    Error gated{ErrorKind::rate_limited, 0, "this team's Rollout request rate is used up; nothing was sent"};
    gated.retry_after = std::chrono::seconds(1);
    EXPECT_EQ(decide_next(settings(), job(50), gated, 10'000, bottom()).next, Next::retry);
    EXPECT_EQ(decide_next(settings(), job(50, 0), gated, 3'600'000, top()).next, Next::die);
    const Error answered429{ErrorKind::rate_limited, 429, "too many requests"};   // Rollout's own answer counts
    EXPECT_EQ(decide_next(settings(), job(5), answered429, 10'000, bottom()).next, Next::die);
}

TEST(SyncPolicy, AnUncertainAttemptMakesTheNextOneRecover) {
    Error reset{ErrorKind::transient, 0, "connection reset", true};
    EXPECT_TRUE(decide_next(settings(), job(1), reset, 0, bottom()).recover);
    EXPECT_FALSE(decide_next(settings(), job(1), Error{ErrorKind::transient, 503, "x"}, 0, bottom()).recover);
    auto recovering = job(2);
    recovering.recover = true;   // stays set until an attempt succeeds
    EXPECT_TRUE(decide_next(settings(), recovering, Error{ErrorKind::transient, 503, "x"}, 0, bottom()).recover);
    // A permanent but uncertain outcome (2xx that is not JSON, reply over the cap, created without an id)
    // fails at once and keeps the doubt for a later retry_sync.
    const auto odd = decide_next(settings(), job(1), Error{ErrorKind::permanent, 201, "not JSON", true}, 0, bottom());
    EXPECT_EQ(odd.next, Next::fail);
    EXPECT_TRUE(odd.recover);
    EXPECT_FALSE(decide_next(settings(), job(1), Error{ErrorKind::validation, 422, "bad"}, 0, bottom()).recover);
    EXPECT_TRUE(decide_next(settings(), recovering, Error{ErrorKind::validation, 422, "bad"}, 0, bottom()).recover);
}

}  // namespace
}  // namespace rollout_mcp
