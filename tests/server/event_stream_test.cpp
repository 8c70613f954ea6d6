// EventStream: the bounded, resumable log behind every SSE stream, with one attached writer.
#include "server/mcp/event_stream.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace rollout_mcp::mcp {
namespace {

std::vector<std::uint64_t> seqs(const EventStream::Batch& b) {
    std::vector<std::uint64_t> out;
    for (const auto& [seq, payload] : b.events) out.push_back(seq);
    return out;
}

TEST(EventStream, AppendThenTakeInOrder) {
    EventStream s(1, false, 100, 1 << 20);
    s.append("a");
    s.append("b");
    ASSERT_EQ(s.attach(0), EventStream::Attach::ok);
    std::uint64_t cursor = 0;
    auto batch = s.take(cursor);
    EXPECT_EQ(seqs(batch), (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(*batch.events[0].second, "a");
    EXPECT_EQ(cursor, 2u);
    EXPECT_FALSE(batch.end_response);
    EXPECT_TRUE(s.take(cursor).events.empty());
    s.append("c");
    EXPECT_EQ(seqs(s.take(cursor)), (std::vector<std::uint64_t>{3}));
    EXPECT_EQ(s.last_seq(), 3u);
    EXPECT_EQ(s.bytes(), 3u);
}

TEST(EventStream, SecondWriterIsBusyUntilDetach) {
    EventStream s(1, false, 100, 1 << 20);
    ASSERT_EQ(s.attach(0), EventStream::Attach::ok);
    EXPECT_TRUE(s.attached());
    EXPECT_EQ(s.attach(0), EventStream::Attach::busy);
    s.detach();
    EXPECT_FALSE(s.attached());
    EXPECT_EQ(s.attach(0), EventStream::Attach::ok);
}

TEST(EventStream, TakeOverDisplacesTheAttachedWriter) {
    EventStream s(1, false, 100, 1 << 20);
    std::uint64_t first = 0, second = 0;
    int first_wakes = 0, second_wakes = 0;
    ASSERT_EQ(s.attach(0, [&] { ++first_wakes; }, false, &first), EventStream::Attach::ok);
    s.append("a");
    ASSERT_EQ(s.attach(0, nullptr, true, &second), EventStream::Attach::ok);
    EXPECT_NE(first, second);
    EXPECT_EQ(first_wakes, 2) << "the displaced writer is woken to notice";
    std::uint64_t old_cursor = 0, new_cursor = 0;
    auto stale = s.take(old_cursor, first);
    EXPECT_TRUE(stale.end_response);
    EXPECT_TRUE(stale.events.empty()) << "a displaced writer gets nothing more";
    s.set_waker([&] { ++first_wakes; }, first);   // ignored: stale generation
    s.set_waker([&] { ++second_wakes; }, second);
    s.detach(first);                               // ignored: stale generation
    EXPECT_TRUE(s.attached());
    s.append("b");
    EXPECT_EQ(second_wakes, 1);
    EXPECT_EQ(first_wakes, 2);
    EXPECT_EQ(seqs(s.take(new_cursor, second)), (std::vector<std::uint64_t>{1, 2}));
    s.detach(second);
    EXPECT_FALSE(s.attached());
}

TEST(EventStream, ResumeFromAnIdNeverIssuedIsTooOld) {
    EventStream s(1, false, 100, 1 << 20);
    s.append("a");
    EXPECT_EQ(s.attach(2), EventStream::Attach::too_old);
    EXPECT_EQ(s.attach(1), EventStream::Attach::ok);   // the last issued id: nothing to replay yet
}

TEST(EventStream, TrimmedEventsMakeOldCursorsTooOld) {
    EventStream s(1, false, 3, 1 << 20);
    for (int i = 0; i < 5; ++i) s.append(std::string(1, static_cast<char>('a' + i)));   // seq 1..5, keeps 3..5
    EXPECT_EQ(s.attach(0), EventStream::Attach::too_old);
    EXPECT_EQ(s.attach(1), EventStream::Attach::too_old);
    ASSERT_EQ(s.attach(2), EventStream::Attach::ok);
    std::uint64_t cursor = 2;
    EXPECT_EQ(seqs(s.take(cursor)), (std::vector<std::uint64_t>{3, 4, 5}));
}

TEST(EventStream, ByteBudgetTrimsButKeepsTheNewestEvent) {
    EventStream s(1, false, 100, 10);
    s.append(std::string(6, 'x'));
    s.append(std::string(6, 'y'));   // over budget: the first goes
    EXPECT_EQ(s.bytes(), 6u);
    s.append(std::string(50, 'z'));  // alone over budget, still kept
    EXPECT_EQ(s.bytes(), 50u);
    ASSERT_EQ(s.attach(2), EventStream::Attach::ok);
    std::uint64_t cursor = 2;
    auto b = s.take(cursor);
    ASSERT_EQ(b.events.size(), 1u);
    EXPECT_EQ(b.events[0].second->size(), 50u);
}

TEST(EventStream, FinalEventEndsTheResponseOnceDelivered) {
    EventStream s(1, false, 100, 1 << 20);
    ASSERT_EQ(s.attach(0), EventStream::Attach::ok);
    s.append("progress");
    s.append("result", true);
    EXPECT_TRUE(s.finished());
    std::uint64_t cursor = 0;
    auto b = s.take(cursor);
    EXPECT_EQ(b.events.size(), 2u);
    EXPECT_TRUE(b.end_response);
    s.append("late");   // nothing after the response
    EXPECT_EQ(s.last_seq(), 2u);
}

TEST(EventStream, ReplayOfAFinishedStreamEndsAfterTheResult) {
    EventStream s(1, false, 100, 1 << 20);
    s.append("p");
    s.append("r", true);
    ASSERT_EQ(s.attach(1), EventStream::Attach::ok);
    std::uint64_t cursor = 1;
    auto b = s.take(cursor);
    EXPECT_EQ(seqs(b), (std::vector<std::uint64_t>{2}));
    EXPECT_TRUE(b.end_response);
}

TEST(EventStream, CloseEndsWritersAndRefusesNewOnes) {
    EventStream s(1, false, 100, 1 << 20);
    ASSERT_EQ(s.attach(0), EventStream::Attach::ok);
    s.close();
    std::uint64_t cursor = 0;
    EXPECT_TRUE(s.take(cursor).end_response);
    s.detach();
    EXPECT_EQ(s.attach(0), EventStream::Attach::gone);
    s.append("ignored");
    EXPECT_EQ(s.last_seq(), 0u);
}

TEST(EventStream, CancelledStreamStaysOpen) {
    EventStream s(1, false, 100, 1 << 20);
    ASSERT_EQ(s.attach(0), EventStream::Attach::ok);
    s.append("progress");
    s.mark_cancelled();
    EXPECT_TRUE(s.finished());
    std::uint64_t cursor = 0;
    auto b = s.take(cursor);
    EXPECT_EQ(b.events.size(), 1u);
    EXPECT_FALSE(b.end_response) << "a cancelled request's stream is held open with keep-alives";
    s.append("late", true);
    EXPECT_TRUE(s.take(cursor).events.empty());
    // A resuming client is attached again and also kept open.
    s.detach();
    ASSERT_EQ(s.attach(1), EventStream::Attach::ok);
    EXPECT_FALSE(s.take(cursor).end_response);
}

TEST(EventStream, RequestConnectionCloseEndsOneResponseOnly) {
    EventStream s(1, false, 100, 1 << 20);
    s.request_connection_close();   // no writer: nothing to end
    ASSERT_EQ(s.attach(0), EventStream::Attach::ok);
    std::uint64_t cursor = 0;
    EXPECT_FALSE(s.take(cursor).end_response);
    s.request_connection_close();
    EXPECT_TRUE(s.take(cursor).end_response);
    EXPECT_FALSE(s.take(cursor).end_response);
    EXPECT_FALSE(s.finished());
    // The next writer resumes normally.
    s.detach();
    s.append("result", true);
    ASSERT_EQ(s.attach(0), EventStream::Attach::ok);
    auto b = s.take(cursor);
    EXPECT_EQ(b.events.size(), 1u);
    EXPECT_TRUE(b.end_response);
}

TEST(EventStream, WakerRunsOnlyWhileAttached) {
    EventStream s(1, false, 100, 1 << 20);
    int wakes = 0;
    s.append("before");
    ASSERT_EQ(s.attach(0, [&] { ++wakes; }), EventStream::Attach::ok);
    s.append("a");
    EXPECT_EQ(wakes, 1);
    s.set_waker([&] { wakes += 10; });
    s.append("b");
    EXPECT_EQ(wakes, 11);
    s.detach();
    s.append("c");
    EXPECT_EQ(wakes, 11);
}

TEST(EventStream, ConcurrentProducerAndWriterSeeEveryEventInOrder) {
    EventStream s(1, false, 100000, 1 << 24);
    ASSERT_EQ(s.attach(0, [] {}), EventStream::Attach::ok);
    constexpr int kEvents = 20000;
    std::thread producer([&] {
        for (int i = 0; i < kEvents; ++i) s.append(std::to_string(i), i == kEvents - 1);
    });
    std::uint64_t cursor = 0, expected = 1;
    bool ordered = true;
    for (bool done = false; !done;) {
        auto b = s.take(cursor);
        for (const auto& [seq, payload] : b.events) ordered = ordered && seq == expected++;
        done = b.end_response;
    }
    producer.join();
    EXPECT_TRUE(ordered);
    EXPECT_EQ(cursor, static_cast<std::uint64_t>(kEvents));
}

}  // namespace
}  // namespace rollout_mcp::mcp
