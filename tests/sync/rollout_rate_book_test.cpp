// RolloutRateBook (server/sync/rollout_rate.hpp), the local side of the per-team Rollout rate, with an injected
// clock: who leases, who waits and until when, who is refused and with which Retry-After, what a lease or a 429
// does to the tokens held. Counts and computed times only; nothing sleeps.
#include "server/sync/rollout_rate.hpp"

#include <gtest/gtest.h>

namespace rollout_mcp {
namespace {

using Kind = RolloutRateBook::Step::Kind;
constexpr std::int64_t t0 = 1'800'000'000'000;

RolloutRateSettings settings() {
    RolloutRateSettings s;   // 40/s, burst 10, leases of 100 ms = 4 tokens, 2 s lifetime
    return s;
}

TEST(RolloutRateBook, LeaseSizeIsAboutAHundredMillisecondsOfTheRateWithinOneAndTheBurst) {
    RolloutRateSettings s = settings();
    EXPECT_EQ(s.lease_size(), 4);
    s.per_second = 0.001;
    EXPECT_EQ(s.lease_size(), 1);
    s.per_second = 1e6;
    EXPECT_EQ(s.lease_size(), 10);   // the burst
    s.per_second = 45;
    EXPECT_EQ(s.lease_size(), 5);    // 4.5 rounds up
}

TEST(RolloutRateBook, OneLeaseServesSeveralRequestsAndOthersWaitForItInsteadOfLeasingToo) {
    RolloutRateBook book(settings());
    const auto first = book.next("a", t0, t0 + 2'000);
    ASSERT_EQ(first.kind, Kind::lease);
    EXPECT_EQ(first.wanted, 4);
    // While it is on its way the team's other requests wait (until their deadline, or the wake-up).
    const auto second = book.next("a", t0 + 1, t0 + 2'001);
    EXPECT_EQ(second.kind, Kind::wait);
    EXPECT_EQ(second.until_ms, t0 + 2'001);
    EXPECT_EQ(book.next("b", t0 + 1, t0 + 2'001).kind, Kind::lease);   // another team is not held by it
    book.leased("a", t0 + 3, {4, 0});
    int sent = 0;
    while (book.next("a", t0 + 4, t0 + 2'004).kind == Kind::send) ++sent;
    EXPECT_EQ(sent, 4);   // four requests, one database round trip
}

TEST(RolloutRateBook, AnEmptyBucketMeansWaitingUntilTheNextTokenOrARefusalWhenThatIsTooLate) {
    RolloutRateBook book(settings());
    ASSERT_EQ(book.next("a", t0, t0 + 2'000).kind, Kind::lease);
    book.leased("a", t0, {0, t0 + 25});
    const auto wait = book.next("a", t0 + 1, t0 + 2'001);
    EXPECT_EQ(wait.kind, Kind::wait);
    EXPECT_EQ(wait.until_ms, t0 + 25);
    // The next token comes after this request's deadline: refused at once, not after a useless wait.
    RolloutRateBook slow(settings());
    ASSERT_EQ(slow.next("a", t0, t0 + 100).kind, Kind::lease);
    slow.leased("a", t0, {0, t0 + 2'500});
    const auto refused = slow.next("a", t0, t0 + 100);
    EXPECT_EQ(refused.kind, Kind::refuse);
    EXPECT_EQ(refused.retry_after, std::chrono::seconds(3));   // 2.5 s, rounded up
    // At the time, the team leases again.
    EXPECT_EQ(slow.next("a", t0 + 2'500, t0 + 4'500).kind, Kind::lease);
}

TEST(RolloutRateBook, AnEmptyAnswerNeverMakesATightLoop) {
    RolloutRateBook book(settings());
    ASSERT_EQ(book.next("a", t0, t0 + 2'000).kind, Kind::lease);
    book.leased("a", t0 + 10, {0, t0 + 5});   // "next token at" already passed (clocks differ)
    const auto step = book.next("a", t0 + 10, t0 + 2'000);
    EXPECT_EQ(step.kind, Kind::wait);
    EXPECT_EQ(step.until_ms, t0 + 11);
}

TEST(RolloutRateBook, ARequestStillWaitingForALeaseAtItsDeadlineIsRefused) {
    RolloutRateBook book(settings());
    ASSERT_EQ(book.next("a", t0, t0 + 500).kind, Kind::lease);
    const auto late = book.next("a", t0 + 600, t0 + 600);
    EXPECT_EQ(late.kind, Kind::refuse);
    EXPECT_EQ(late.retry_after, std::chrono::seconds(1));
}

TEST(RolloutRateBook, UnspentTokensExpire) {
    RolloutRateBook book(settings());
    ASSERT_EQ(book.next("a", t0, t0 + 2'000).kind, Kind::lease);
    book.leased("a", t0, {4, 0});
    EXPECT_EQ(book.next("a", t0 + 1'999, t0 + 3'999).kind, Kind::send);
    EXPECT_EQ(book.next("a", t0 + 2'000, t0 + 4'000).kind, Kind::lease);   // three left, but too old
}

TEST(RolloutRateBook, A429DropsTheTokensHeldAndHoldsTheTeamUntilItsEnd) {
    RolloutRateBook book(settings());
    ASSERT_EQ(book.next("a", t0, t0 + 2'000).kind, Kind::lease);
    book.leased("a", t0, {4, 0});
    book.paused("a", t0 + 1'500);
    const auto wait = book.next("a", t0 + 100, t0 + 2'100);
    EXPECT_EQ(wait.kind, Kind::wait);
    EXPECT_EQ(wait.until_ms, t0 + 1'500);
    const auto refused = book.next("a", t0 + 100, t0 + 1'000);
    EXPECT_EQ(refused.kind, Kind::refuse);
    EXPECT_EQ(refused.retry_after, std::chrono::seconds(2));   // 1.4 s, rounded up
    book.paused("a", t0 + 500);   // a shorter pause does not end the longer one
    EXPECT_EQ(book.next("a", t0 + 600, t0 + 2'600).until_ms, t0 + 1'500);
    EXPECT_EQ(book.next("a", t0 + 1'500, t0 + 3'500).kind, Kind::lease);   // the four held before are gone
    EXPECT_EQ(book.next("b", t0 + 100, t0 + 2'100).kind, Kind::lease);     // another team is not paused
}

TEST(RolloutRateBook, ALeaseAnsweredDuringAPauseIsNotSpent) {
    RolloutRateBook book(settings());
    ASSERT_EQ(book.next("a", t0, t0 + 2'000).kind, Kind::lease);
    book.paused("a", t0 + 1'000);   // a 429 arrives while the lease is on its way
    book.leased("a", t0 + 5, {4, 0});
    EXPECT_EQ(book.next("a", t0 + 6, t0 + 2'006).kind, Kind::wait);
    EXPECT_EQ(book.next("a", t0 + 1'000, t0 + 3'000).kind, Kind::lease);
}

TEST(RolloutRateBook, AFailedLeaseHoldsTheTeamASecondAndLetsAnotherLeaseThen) {
    RolloutRateBook book(settings());
    ASSERT_EQ(book.next("a", t0, t0 + 2'000).kind, Kind::lease);
    book.lease_failed("a", t0 + 5);
    EXPECT_EQ(book.next("a", t0 + 6, t0 + 500).kind, Kind::refuse);
    EXPECT_EQ(book.next("a", t0 + 1'005, t0 + 3'005).kind, Kind::lease);
}

}  // namespace
}  // namespace rollout_mcp
