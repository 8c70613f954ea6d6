// Sessions and the in-memory session store: cap, tenant isolation, expiry, ids, in-flight requests, streams.
#include "server/mcp/session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

namespace rollout_mcp::mcp {
namespace {
using namespace std::chrono_literals;

// Time the tests move by hand: expiry is checked without sleeping.
struct ManualClock {
    Session::Clock::time_point now = Session::Clock::now();
    Session::ClockFn fn() {
        return [this] { return now; };
    }
};

std::unique_ptr<SessionStore> store(std::size_t max = 100, std::chrono::seconds idle = 1800s,
                                    ManualClock* clock = nullptr) {
    SessionStoreSettings s;
    if (clock) s.clock = clock->fn();
    s.max_sessions = max;
    s.max_sessions_per_tenant = max;   // these tests are about the global cap
    s.idle_timeout = idle;
    s.stream_retention = 300s;
    return make_in_memory_session_store(s);
}

bool is_session_id(const std::string& id) {
    return id.size() == 32 &&
           std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

TEST(SessionStore, CapHoldsUnderConcurrentCreate) {
    auto s = store(100);
    std::atomic<int> created{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) (s->create("team", Revision::v2025_11_25) ? created : refused)++;
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(created.load(), 100);
    EXPECT_EQ(refused.load(), 300);
    EXPECT_EQ(s->size(), 100u);
}

TEST(SessionStore, RoomFreesUpAfterRemove) {
    auto s = store(1);
    auto a = s->create("t", Revision::v2025_11_25);
    ASSERT_TRUE(a);
    EXPECT_FALSE(s->create("t", Revision::v2025_11_25));
    EXPECT_TRUE(s->remove(a->id(), "t"));
    EXPECT_TRUE(s->create("t", Revision::v2025_11_25));
}

TEST(SessionStore, PerTeamCapLeavesRoomForOtherTeams) {
    ManualClock clock;
    SessionStoreSettings settings;
    settings.max_sessions = 10;
    settings.max_sessions_per_tenant = 3;
    settings.idle_timeout = 1s;
    settings.clock = clock.fn();
    auto s = make_in_memory_session_store(settings);
    std::vector<std::shared_ptr<Session>> a;
    for (int i = 0; i < 3; ++i) a.push_back(s->create("team-a", Revision::v2025_11_25));
    for (const auto& x : a) ASSERT_TRUE(x);
    EXPECT_FALSE(s->create("team-a", Revision::v2025_11_25)) << "team A is at its cap";
    EXPECT_TRUE(s->create("team-b", Revision::v2025_11_25)) << "team B is not affected";
    EXPECT_TRUE(s->remove(a[0]->id(), "team-a"));
    EXPECT_TRUE(s->create("team-a", Revision::v2025_11_25)) << "a removed session frees its team's slot";
    clock.now += 1001ms;
    EXPECT_EQ(s->sweep(), 4u);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(s->create("team-a", Revision::v2025_11_25)) << "expiry frees slots too";
}

TEST(SessionStore, TenantsAreIsolated) {
    auto s = store();
    auto a = s->create("team-a", Revision::v2025_06_18);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->tenant(), "team-a");
    EXPECT_EQ(a->revision(), Revision::v2025_06_18);
    EXPECT_EQ(s->find(a->id(), "team-a"), a);
    EXPECT_EQ(s->find(a->id(), "team-b"), nullptr);
    EXPECT_EQ(s->find(a->id(), ""), nullptr);
    EXPECT_FALSE(s->remove(a->id(), "team-b"));
    EXPECT_EQ(s->find(a->id(), "team-a"), a) << "another tenant cannot end the session";
    EXPECT_TRUE(s->remove(a->id(), "team-a"));
    EXPECT_EQ(s->find(a->id(), "team-a"), nullptr);
    EXPECT_TRUE(a->closed());
    EXPECT_FALSE(s->remove(a->id(), "team-a"));
}

TEST(SessionStore, SweepExpiresIdleSessionsOnly) {
    ManualClock clock;
    auto s = store(100, 1s, &clock);
    auto idle = s->create("t", Revision::v2025_11_25);
    auto active = s->create("t", Revision::v2025_11_25);
    clock.now += 600ms;
    active->touch();
    EXPECT_EQ(s->sweep(), 0u);
    clock.now += 400ms;
    EXPECT_EQ(s->sweep(), 0u) << "idle for exactly the timeout is not yet over it";
    clock.now += 1ms;
    EXPECT_EQ(s->sweep(), 1u);
    EXPECT_EQ(s->find(idle->id(), "t"), nullptr);
    EXPECT_TRUE(idle->closed());
    EXPECT_EQ(s->find(active->id(), "t"), active);
}

TEST(SessionStore, SweepKeepsSessionsWithAnAttachedStream) {
    ManualClock clock;
    auto s = store(100, 1s, &clock);
    auto reading = s->create("t", Revision::v2025_11_25);
    ASSERT_EQ(reading->standalone_stream()->attach(0), EventStream::Attach::ok);
    clock.now += 1h;
    EXPECT_EQ(s->sweep(), 0u);
    EXPECT_EQ(s->find(reading->id(), "t"), reading);
}

TEST(SessionStore, IdsAre32HexCharsAndUnique) {
    std::set<std::string> ids;
    for (int i = 0; i < 10000; ++i) {
        auto id = random_session_id();
        ASSERT_TRUE(is_session_id(id)) << id;
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 10000u);
    auto s = store(10000);
    std::set<std::string> store_ids;
    for (int i = 0; i < 10000; ++i) store_ids.insert(s->create("t", Revision::v2025_11_25)->id());
    EXPECT_EQ(store_ids.size(), 10000u);
}

TEST(SessionStore, EndStandaloneStreamsClosesGetAndCancelledStreamsOnly) {
    auto s = store();
    auto a = s->create("t", Revision::v2025_11_25);
    auto get = a->standalone_stream();
    auto post = a->open_post_stream();
    auto cancelled = a->open_post_stream();
    cancelled->mark_cancelled();
    s->end_standalone_streams();
    EXPECT_EQ(get->attach(0), EventStream::Attach::gone);
    EXPECT_EQ(cancelled->attach(0), EventStream::Attach::gone) << "nothing will ever be written to it";
    EXPECT_EQ(post->attach(0), EventStream::Attach::ok) << "a running request still answers";
}

TEST(SessionStore, CloseAllEndsEverySession) {
    auto s = store();
    auto a = s->create("t", Revision::v2025_11_25);
    auto b = s->create("u", Revision::v2025_11_25);
    s->close_all();
    EXPECT_EQ(s->size(), 0u);
    EXPECT_TRUE(a->closed());
    EXPECT_TRUE(b->closed());
}

TEST(Session, InFlightRequests) {
    SessionLimits limits;
    limits.max_pending_requests = 2;
    Session s("id", "t", Revision::v2025_11_25, limits);
    int cancelled = 0;
    EXPECT_EQ(s.add_in_flight("1", [&] { ++cancelled; }), Session::AddRequest::ok);
    EXPECT_EQ(s.add_in_flight("1", [] {}), Session::AddRequest::duplicate_id);
    EXPECT_EQ(s.add_in_flight("\"1\"", [] {}), Session::AddRequest::ok);   // "1" is another id than 1
    EXPECT_EQ(s.add_in_flight("2", [] {}), Session::AddRequest::too_many);
    EXPECT_TRUE(s.cancel_in_flight("1"));
    EXPECT_EQ(cancelled, 1);
    EXPECT_FALSE(s.cancel_in_flight("1")) << "a request is cancelled once";
    EXPECT_FALSE(s.cancel_in_flight("99"));
    s.remove_in_flight("\"1\"");
    EXPECT_EQ(s.add_in_flight("3", [] {}), Session::AddRequest::ok);
}

TEST(Session, CloseCancelsWorkAndEndsStreams) {
    Session s("id", "t", Revision::v2025_11_25, {});
    int cancelled = 0;
    s.add_in_flight("1", [&] { ++cancelled; });
    auto post = s.open_post_stream();
    auto get = s.standalone_stream();
    s.close();
    s.close();   // idempotent
    EXPECT_EQ(cancelled, 1);
    EXPECT_TRUE(s.closed());
    EXPECT_EQ(post->attach(0), EventStream::Attach::gone);
    EXPECT_EQ(get->attach(0), EventStream::Attach::gone);
    EXPECT_EQ(s.open_post_stream()->attach(0), EventStream::Attach::gone);
    EXPECT_EQ(s.stream_count(), 0u);
}

TEST(Session, StreamsAreNumberedAndFindable) {
    Session s("id", "t", Revision::v2025_11_25, {});
    auto a = s.open_post_stream();
    auto b = s.open_post_stream();
    EXPECT_EQ(a->number(), 1u);
    EXPECT_EQ(b->number(), 2u);
    EXPECT_EQ(s.standalone_stream()->number(), 0u);
    EXPECT_EQ(s.standalone_stream(), s.standalone_stream());
    EXPECT_EQ(s.find_stream(2), b);
    EXPECT_EQ(s.find_stream(7), nullptr);
}

TEST(Session, TrimDropsFinishedStreamsPastRetention) {
    Session s("id", "t", Revision::v2025_11_25, {});
    auto done = s.open_post_stream();
    done->append("r", true);
    auto running = s.open_post_stream();
    auto reading = s.open_post_stream();
    reading->append("r", true);
    ASSERT_EQ(reading->attach(0), EventStream::Attach::ok);
    s.standalone_stream();
    s.trim(Session::Clock::now() + 10s, 5s);
    EXPECT_EQ(s.find_stream(done->number()), nullptr);
    EXPECT_EQ(s.find_stream(running->number()), running);
    EXPECT_EQ(s.find_stream(reading->number()), reading);
    EXPECT_NE(s.find_stream(0), nullptr);
}

TEST(Session, StreamCapDropsTheOldestFinishedStreams) {
    SessionLimits limits;
    limits.max_streams = 4;
    Session s("id", "t", Revision::v2025_11_25, limits);
    s.standalone_stream();                     // the GET stream is never dropped
    auto live = s.open_post_stream();          // neither is a running request's stream
    std::vector<std::shared_ptr<EventStream>> done;
    for (int i = 0; i < 50; ++i) {
        done.push_back(s.open_post_stream());
        done.back()->append("r", true);
    }
    EXPECT_LE(s.stream_count(), 4u);
    EXPECT_NE(s.find_stream(0), nullptr);
    EXPECT_EQ(s.find_stream(live->number()), live);
    EXPECT_EQ(s.find_stream(done.back()->number()), done.back());   // the newest stays resumable
    EXPECT_EQ(s.find_stream(done.front()->number()), nullptr);
}

TEST(Session, LogLevels) {
    EXPECT_EQ(parse_log_level("debug"), LogLevel::debug);
    EXPECT_EQ(parse_log_level("emergency"), LogLevel::emergency);
    EXPECT_FALSE(parse_log_level("DEBUG"));
    EXPECT_FALSE(parse_log_level("warn"));
    EXPECT_EQ(to_string(LogLevel::notice), "notice");
    Session s("id", "t", Revision::v2025_11_25, {});
    EXPECT_EQ(s.log_level(), LogLevel::info);
    s.set_log_level(LogLevel::error);
    EXPECT_EQ(s.log_level(), LogLevel::error);
}

}  // namespace
}  // namespace rollout_mcp::mcp
