// SSE framing and strict event-id parsing.
#include "server/mcp/sse.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace rollout_mcp::sse {
namespace {

TEST(SseEventId, FormatsAsHexEpochDotStreamDotSeq) {
    EXPECT_EQ(format_event_id({0xdeadbeef, 3, 42}), "deadbeef.3.42");
    EXPECT_EQ(format_event_id({1, 0, 0}), "00000001.0.0");
}

TEST(SseEventId, RoundTripsIncludingExtremes) {
    const EventId cases[] = {{0, 0, 0},
                             {0x0000abcd, 1, 1},
                             {std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::uint32_t>::max(),
                              std::numeric_limits<std::uint64_t>::max()}};
    for (const auto& id : cases) {
        auto parsed = parse_event_id(format_event_id(id));
        ASSERT_TRUE(parsed) << format_event_id(id);
        EXPECT_EQ(*parsed, id);
    }
    EXPECT_EQ(format_event_id(cases[2]), "ffffffff.4294967295.18446744073709551615");
}

TEST(SseEventId, ParsesItsFields) {
    auto id = parse_event_id("0a1b2c3d.7.900");
    ASSERT_TRUE(id);
    EXPECT_EQ(id->epoch, 0x0a1b2c3du);
    EXPECT_EQ(id->stream, 7u);
    EXPECT_EQ(id->seq, 900u);
}

TEST(SseEventId, RejectsMalformedText) {
    for (std::string_view bad : {"", ".", "..", "abc", "deadbeef", "deadbeef.1", "deadbeef..1", "deadbeef.1.",
                                 ".1.1", "deadbeef.1.1 ", " deadbeef.1.1", "deadbeef.1.1\n", "deadbeef. 1.1",
                                 "deadbeef.1.-1", "deadbeef.-1.1", "deadbeef.+1.1", "deadbeef.1.+1",
                                 "deadbeef.1.1a", "deadbeef.a.1", "deadbeef.1.0x1", "s1-0", "1-5"}) {
        EXPECT_FALSE(parse_event_id(bad)) << '"' << bad << '"';
    }
}

TEST(SseEventId, RejectsWrongFieldCounts) {
    EXPECT_FALSE(parse_event_id("deadbeef.1.2.3"));
    EXPECT_FALSE(parse_event_id("deadbeef.1.2.3.4"));
    EXPECT_FALSE(parse_event_id("deadbeef"));
}

TEST(SseEventId, EpochMustBeEightLowercaseHexDigits) {
    EXPECT_FALSE(parse_event_id("deadbee.1.1"));     // 7 digits
    EXPECT_FALSE(parse_event_id("0deadbeef.1.1"));   // 9 digits
    EXPECT_FALSE(parse_event_id("DEADBEEF.1.1"));    // upper case is never issued
    EXPECT_FALSE(parse_event_id("deadbeeg.1.1"));
    EXPECT_FALSE(parse_event_id("0x123456.1.1"));
    EXPECT_FALSE(parse_event_id("-eadbeef.1.1"));
    EXPECT_TRUE(parse_event_id("00000000.1.1"));
}

TEST(SseEventId, RejectsOverflow) {
    EXPECT_FALSE(parse_event_id("deadbeef.4294967296.1"));              // stream > uint32
    EXPECT_FALSE(parse_event_id("deadbeef.1.18446744073709551616"));    // seq > uint64
    EXPECT_FALSE(parse_event_id("deadbeef.1.99999999999999999999999"));
    EXPECT_TRUE(parse_event_id("deadbeef.4294967295.18446744073709551615"));
}

TEST(SseFraming, MessageEvent) {
    std::string out;
    append_message_event(out, {0x12345678, 2, 5}, R"({"jsonrpc":"2.0","id":1,"result":{}})");
    EXPECT_EQ(out, "event: message\nid: 12345678.2.5\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n");
}

TEST(SseFraming, EventsAppend) {
    std::string out;
    append_message_event(out, {1, 1, 1}, "{}");
    append_message_event(out, {1, 1, 2}, "[]");
    EXPECT_EQ(out, "event: message\nid: 00000001.1.1\ndata: {}\n\nevent: message\nid: 00000001.1.2\ndata: []\n\n");
}

TEST(SseFraming, PrimingEventHasIdRetryAndEmptyData) {
    std::string out;
    append_priming_event(out, {0xabcdef01, 0, 0}, 1500);
    EXPECT_EQ(out, "id: abcdef01.0.0\nretry: 1500\ndata: \n\n");
    EXPECT_TRUE(parse_event_id("abcdef01.0.0"));
}

TEST(SseFraming, KeepAliveIsAComment) {
    ASSERT_FALSE(keepalive_comment.empty());
    EXPECT_EQ(keepalive_comment.front(), ':');
    EXPECT_EQ(keepalive_comment.substr(keepalive_comment.size() - 2), "\n\n");
}

}  // namespace
}  // namespace rollout_mcp::sse
