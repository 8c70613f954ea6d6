// The per-team Rollout rate bucket (storage/rate_buckets.hpp) on both engines, with the clock passed in: the
// refill, the grant, the cap at the burst, a 429 pause, tiny and huge rates, and the bound on what a bucket grants
// over an interval whatever the callers ask. No test here sleeps.
#include "storage_fixture.hpp"

namespace rollout_mcp::storage::test {
namespace {

class RateBuckets : public StorageTest {
protected:
    void SetUp() override {
        StorageTest::SetUp();
        if (IsSkipped()) return;
        store = open_store();
        team = make_tenant(*store, "rate").id;
    }
    RateLease lease(const RateBucket& bucket, std::int64_t wanted, std::int64_t now) {
        auto r = store->lease_rate_tokens(team, bucket, wanted, now);
        if (!r) throw std::runtime_error(r.error().message);
        return *r;
    }

    std::unique_ptr<SqlStorage> store;
    std::string team;
    static constexpr std::int64_t t0 = 1'800'000'000'000;   // a Unix time in ms
};

TEST_F(RateBuckets, AFullBucketGrantsItsBurstThenOneTokenPerTick) {
    const RateBucket b{40, 10};   // one token every 25 ms
    EXPECT_EQ(lease(b, 4, t0).granted, 4);
    EXPECT_EQ(lease(b, 4, t0).granted, 4);
    EXPECT_EQ(lease(b, 4, t0).granted, 2);
    const auto empty = lease(b, 4, t0);
    EXPECT_EQ(empty.granted, 0);
    EXPECT_EQ(empty.next_token_at_ms, t0 + 25);
    const auto early = lease(b, 4, t0 + 24);   // 0.96 of a token: none yet, and the rest is owed 1 ms later
    EXPECT_EQ(early.granted, 0);
    EXPECT_EQ(early.next_token_at_ms, t0 + 25);
    EXPECT_EQ(lease(b, 4, t0 + 25).granted, 1);
    EXPECT_EQ(lease(b, 4, t0 + 125).granted, 4);
    // A long quiet spell refills to the burst, never beyond.
    EXPECT_EQ(lease(b, 100, t0 + 3'600'000).granted, 10);
    EXPECT_EQ(lease(b, 100, t0 + 3'600'000).granted, 0);
}

TEST_F(RateBuckets, GrantsOverAnIntervalNeverExceedRateTimesIntervalPlusBurst) {
    const RateBucket b{40, 10};
    std::int64_t granted = 0;
    // Greedy callers asking for many tokens at odd times, and a clock that sometimes steps back (another
    // instance's clock behind ours): 3 s can never yield more than 40 x 3 + 10.
    for (std::int64_t t = 0; t <= 3'000; t += 23) {
        granted += lease(b, 7, t0 + t).granted;
        if (t % 115 == 0) granted += lease(b, 3, t0 + t - 50).granted;
    }
    EXPECT_LE(granted, 40 * 3 + 10);
    EXPECT_GE(granted, 40 * 3 + 10 - 2);   // and greedy callers get the whole rate (the loop ends at 2.99 s)
}

TEST_F(RateBuckets, APauseEmptiesTheBucketUntilItEndsAndALaterPauseIsKept) {
    const RateBucket b{40, 10};
    ASSERT_EQ(lease(b, 1, t0).granted, 1);
    ASSERT_TRUE(store->pause_rate_bucket(team, t0 + 3'000));
    ASSERT_TRUE(store->pause_rate_bucket(team, t0 + 1'000));   // an earlier end does not shorten it
    const auto held = lease(b, 4, t0 + 2'999);
    EXPECT_EQ(held.granted, 0);
    EXPECT_EQ(held.next_token_at_ms, t0 + 3'025);   // refills from the pause's end, from empty
    EXPECT_EQ(lease(b, 4, t0 + 3'024).granted, 0);
    EXPECT_EQ(lease(b, 4, t0 + 3'025).granted, 1);
    // A pause for a team that never leased makes its row, empty.
    const auto other = make_tenant(*store, "rate-2").id;
    ASSERT_TRUE(store->pause_rate_bucket(other, t0 + 500));
    auto r = store->lease_rate_tokens(other, b, 4, t0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->granted, 0);
    EXPECT_EQ(r->next_token_at_ms, t0 + 525);
}

TEST_F(RateBuckets, TinyAndHugeRatesNeitherOverflowNorStall) {
    const RateBucket tiny{0.001, 1};   // one token every 1,000 s
    EXPECT_EQ(lease(tiny, 1, t0).granted, 1);
    const auto wait = lease(tiny, 1, t0);
    EXPECT_EQ(wait.granted, 0);
    EXPECT_EQ(wait.next_token_at_ms, t0 + 1'000'000);
    EXPECT_EQ(lease(tiny, 1, t0 + 999'999).granted, 0);
    EXPECT_EQ(lease(tiny, 1, t0 + 1'000'000).granted, 1);
    EXPECT_EQ(lease(tiny, 5, t0 + 1'000'000'000'000).granted, 1);   // 31 years later: still one, no overflow

    const auto other = make_tenant(*store, "rate-huge").id;
    const RateBucket huge{1e6, 1'000'000};
    auto r = store->lease_rate_tokens(other, huge, 1'000'000, t0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->granted, 1'000'000);
    r = store->lease_rate_tokens(other, huge, 1'000'000, t0 + 4'000'000'000'000);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->granted, 1'000'000);
}

TEST_F(RateBuckets, EachTeamHasItsOwnBucketAndBadArgumentsAreRefused) {
    const RateBucket b{40, 2};
    EXPECT_EQ(lease(b, 2, t0).granted, 2);
    EXPECT_EQ(lease(b, 2, t0).granted, 0);
    const auto other = make_tenant(*store, "rate-other").id;
    auto r = store->lease_rate_tokens(other, b, 2, t0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->granted, 2);   // untouched by the first team's debt
    EXPECT_FALSE(store->lease_rate_tokens(team, RateBucket{0, 2}, 1, t0));
    EXPECT_FALSE(store->lease_rate_tokens(team, RateBucket{40, 0}, 1, t0));
    EXPECT_FALSE(store->lease_rate_tokens(team, b, 0, t0));
    EXPECT_FALSE(store->lease_rate_tokens("t_nosuchteam", b, 1, t0));   // a bucket belongs to a tenant
}

}  // namespace
}  // namespace rollout_mcp::storage::test
