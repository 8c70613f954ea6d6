// TeamConfigCache and SecretArena (server/sync/team_config_cache.hpp): an entry never outlives a newer observed
// version, a loaded entry that lost a race with an observation is not kept, the LRU bound holds, the arena
// evicts to make room, a team whose secrets cannot fit is served uncached, and every block goes back zeroed.
#include "server/sync/team_config_cache.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace rollout_mcp {
namespace {
using namespace std::chrono_literals;

storage::TeamConfigSnapshot snapshot(std::int64_t version, std::string_view secret,
                                     std::vector<std::pair<std::string, std::string>> connections = {}) {
    storage::TeamConfigSnapshot s;
    s.version = version;
    s.rollout = storage::RolloutConfig{R"({"projectEnvKey":"p"})", crypto::SecretBytes::copy_of(secret), {}, 0};
    for (auto& [crm, credential] : connections)
        s.connections.push_back({{crm, crm, 0, 0}, crypto::SecretBytes::copy_of(credential), false, {}});
    return s;
}

std::shared_ptr<const TeamConfig> put(TeamConfigCache& cache, const std::string& team, std::int64_t version,
                                      std::string_view secret,
                                      std::vector<std::pair<std::string, std::string>> connections = {}) {
    return cache.put(team, snapshot(version, secret, std::move(connections)), RolloutSettings{}, std::nullopt,
                     TeamConfigCache::Clock::now());
}

TEST(TeamConfigCache, ServesWhatWasPutWithSecretsAndCredentialIds) {
    TeamConfigCache cache(4);
    put(cache, "t1", 3, "token-1", {{"highlevel", "cred-h"}, {"lofty", "cred-l"}});
    auto hit = cache.find("t1");
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->version, 3);
    EXPECT_EQ(hit->secret, "token-1");
    ASSERT_TRUE(hit->connection("lofty"));
    EXPECT_EQ(hit->connection("lofty")->credential_key, "cred-l");
    EXPECT_EQ(hit->connection("highlevel")->credential_key, "cred-h");
    EXPECT_EQ(hit->connection("follow_up_boss"), nullptr);
    EXPECT_TRUE(hit->block) << "secrets live in the shared arena";
    EXPECT_FALSE(cache.find("t2")) << "another team never gets this team's entry";
}

TEST(TeamConfigCache, ANewerObservedVersionDropsTheEntryAndAnEqualOneConfirmsIt) {
    TeamConfigCache cache(4, 50ms);
    put(cache, "t1", 3, "old");
    cache.observe("t1", 3);
    EXPECT_TRUE(cache.find("t1"));
    cache.observe("t1", 2);   // a stale observation (read before the load) keeps it
    EXPECT_TRUE(cache.find("t1"));
    cache.observe("t1", 4);   // changed elsewhere: read again
    EXPECT_FALSE(cache.find("t1"));
    put(cache, "t1", 4, "new");
    EXPECT_EQ(cache.find("t1")->secret, "new");
    std::this_thread::sleep_for(80ms);   // nothing confirmed it within the window
    EXPECT_FALSE(cache.find("t1"));
    cache.observe("t1", 4);
    EXPECT_TRUE(cache.find("t1"));
}

TEST(TeamConfigCache, ALoadThatLostARaceWithAnObservationIsUsedOnceButNotKept) {
    TeamConfigCache cache(4);
    cache.observe("t1", 7);                  // the API key check saw version 7 ...
    auto loaded = put(cache, "t1", 6, "x");  // ... while a slower read returned version 6
    EXPECT_EQ(loaded->secret, "x");
    EXPECT_FALSE(cache.find("t1"));
    put(cache, "t1", 8, "y");
    put(cache, "t1", 7, "z");                // an older read finishing last does not replace a newer entry
    EXPECT_EQ(cache.find("t1")->secret, "y");
}

TEST(TeamConfigCache, AReadStartedBeforeThisInstanceChangedTheTeamIsNotKept) {
    TeamConfigCache cache(4);
    const auto asked = TeamConfigCache::Clock::now();   // a read begins ...
    std::this_thread::sleep_for(2ms);
    cache.forget("t1");                                 // ... configure_crm_connection commits and forgets ...
    auto old = cache.put("t1", snapshot(5, "before"), RolloutSettings{}, std::nullopt, asked);   // ... it ends
    EXPECT_EQ(old->secret, "before") << "its caller still uses what it read";
    EXPECT_FALSE(cache.find("t1"));
    put(cache, "t1", 6, "after");
    EXPECT_EQ(cache.find("t1")->secret, "after");
}

TEST(TeamConfigCache, AnOlderEntryIsNeverConfirmedAfterANewerVersionWasLoaded) {
    TeamConfigCache cache(1, 50ms);
    put(cache, "t1", 1, "small");
    put(cache, "t1", 2, std::string(4096, 'x'));   // newer, but too large to keep: the old entry stays unconfirmed
    std::this_thread::sleep_for(80ms);
    cache.observe("t1", 1);                          // a late observation of the old version
    EXPECT_FALSE(cache.find("t1"));
}

TEST(TeamConfigCache, KeepsAtMostMaxTeamsLeastRecentlyUsedFirstOut) {
    TeamConfigCache cache(2);
    put(cache, "a", 1, "sa");
    put(cache, "b", 1, "sb");
    EXPECT_TRUE(cache.find("a"));   // a is now the most recent
    put(cache, "c", 1, "sc");
    EXPECT_TRUE(cache.find("a"));
    EXPECT_FALSE(cache.find("b"));
    EXPECT_TRUE(cache.find("c"));
    EXPECT_EQ(cache.size(), 2u);
}

TEST(TeamConfigCache, ArenaEvictsToMakeRoomAndBlocksGoBackZeroedWhenTheLastUserDrops) {
    TeamConfigCache cache(2);   // 2 x 2 KiB
    const std::size_t all = cache.arena_free_bytes();
    const std::string big(1500, 'k');
    auto held = put(cache, "a", 1, big);
    const unsigned char* at = reinterpret_cast<const unsigned char*>(held->secret.data());
    put(cache, "b", 1, big);
    put(cache, "c", 1, std::string(1500, 'c'));   // no room left: evicts a (least recently used)
    EXPECT_FALSE(cache.find("a"));
    ASSERT_TRUE(cache.find("c"));
    EXPECT_EQ(held->secret, big) << "a call still using a's entry keeps its block";
    held.reset();
    bool zeroed = true;   // the block is back in the arena, wiped (the arena's memory stays mapped)
    for (std::size_t i = 0; i < 1500; ++i) zeroed = zeroed && at[i] == 0;
    EXPECT_TRUE(zeroed);
    cache.forget("b");
    cache.forget("c");
    EXPECT_EQ(cache.arena_free_bytes(), all);
}

TEST(TeamConfigCache, SecretsThatCannotFitAreServedButNotKeptAndEvictNobody) {
    TeamConfigCache cache(2);   // 4 KiB in all
    put(cache, "small", 1, "s");
    auto config = put(cache, "t1", 1, std::string(8191, 't'));   // the largest token a team may store
    EXPECT_EQ(config->secret.size(), 8191u);
    EXPECT_FALSE(config->block);
    EXPECT_FALSE(cache.find("t1"));
    EXPECT_TRUE(cache.find("small")) << "a team that can never fit must not empty the cache on every call";
}

TEST(TeamConfigCache, DisabledKeepsNothing) {
    TeamConfigCache cache(0);
    EXPECT_FALSE(cache.enabled());
    auto config = put(cache, "t1", 1, "s", {{"highlevel", "c"}});
    EXPECT_EQ(config->connection("highlevel")->credential_key, "c");
    EXPECT_FALSE(cache.find("t1"));
}

TEST(SecretArena, MergesFreeRunsSoALargeBlockFitsAgain) {
    auto arena = SecretArena::create(4 * SecretArena::kGrain);
    auto a = arena->allocate(10);
    auto b = arena->allocate(SecretArena::kGrain + 1);   // two grains
    auto c = arena->allocate(1);
    ASSERT_TRUE(a && b && c);
    EXPECT_FALSE(arena->allocate(SecretArena::kGrain + 1));
    b.reset();
    a.reset();
    auto big = arena->allocate(3 * SecretArena::kGrain);   // a's and b's runs, merged
    ASSERT_TRUE(big);
    EXPECT_EQ(big->bytes().size(), 3 * SecretArena::kGrain);
    for (unsigned char byte : big->bytes()) ASSERT_EQ(byte, 0);
}

}  // namespace
}  // namespace rollout_mcp
