// Local visit times and feedback timestamps (no UTC offset) resolved in IANA zones: the visit's zone, else
// the tour's, else the team's default; refused inside a DST gap (naming the field and zone), the earlier
// instant in an overlap (with a warning naming the field), refused without any zone (naming the three ways
// to give one); unknown zones refused; one buyer per tour (per-visit buyerId must match).
#include "rollout/local_time.hpp"
#include "rollout/model.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::rollout {
namespace {
namespace json = boost::json;

json::value tour_with(std::string visit_time, std::string extra_tour = "", std::string extra_visit = "") {
    return json::parse(R"({"tourId":"T","agentId":"A")" + extra_tour +
                       R"(,"properties":[{"propertyId":"P","address":"1 Main St","visitTime":")" + visit_time + "\"" +
                       extra_visit + "}]}");
}

TEST(LocalTime, ResolvesWithTheZoneRulesOfThatDate) {
    auto winter = parse_tour(tour_with("2026-12-05T10:00:00", R"(,"timeZone":"America/Chicago")"));
    ASSERT_TRUE(winter) << winter.error().describe();
    EXPECT_EQ(winter->properties[0].visit_time.utc_iso(), "2026-12-05T16:00:00Z");   // CST, -06:00
    EXPECT_EQ(winter->properties[0].visit_time.local_iso(), "2026-12-05T10:00:00-06:00");
    auto summer = parse_tour(tour_with("2026-07-05T10:00", R"(,"timeZone":"America/Chicago")"));
    ASSERT_TRUE(summer);
    EXPECT_EQ(summer->properties[0].visit_time.utc_iso(), "2026-07-05T15:00:00Z");   // CDT, -05:00
    // The normalized payload carries the offset, so a later parse needs no zone.
    auto again = parse_tour(json::value(to_json(*summer)));
    ASSERT_TRUE(again) << again.error().describe();
    EXPECT_EQ(again->properties[0].visit_time.utc_seconds, summer->properties[0].visit_time.utc_seconds);
}

TEST(LocalTime, TheVisitZoneBeatsTheTourZoneWhichBeatsTheTeamDefault) {
    ParseOptions team{"America/New_York", nullptr};
    auto by_team = parse_tour(tour_with("2026-12-05T10:00:00"), "tourData", nullptr, team);
    ASSERT_TRUE(by_team);
    EXPECT_EQ(by_team->properties[0].visit_time.utc_iso(), "2026-12-05T15:00:00Z");
    auto by_tour = parse_tour(tour_with("2026-12-05T10:00:00", R"(,"timeZone":"America/Denver")"), "tourData", nullptr, team);
    EXPECT_EQ(by_tour->properties[0].visit_time.utc_iso(), "2026-12-05T17:00:00Z");
    auto by_visit = parse_tour(tour_with("2026-12-05T10:00:00", R"(,"timeZone":"America/Denver")",
                                         R"(,"timeZone":"America/Los_Angeles")"), "tourData", nullptr, team);
    EXPECT_EQ(by_visit->properties[0].visit_time.utc_iso(), "2026-12-05T18:00:00Z");
    // An explicit offset wins over every zone.
    auto explicit_offset = parse_tour(tour_with("2026-12-05T10:00:00Z", R"(,"timeZone":"America/Denver")"));
    EXPECT_EQ(explicit_offset->properties[0].visit_time.utc_iso(), "2026-12-05T10:00:00Z");
}

TEST(LocalTime, ATimeInADstGapIsRefusedNamingTheFieldAndZone) {
    auto gap = parse_tour(tour_with("2026-03-08T02:30:00", R"(,"timeZone":"America/Chicago")"));
    ASSERT_FALSE(gap);
    EXPECT_EQ(gap.error().message.rfind("tourData.properties[0].visitTime: ", 0), 0u) << gap.error().message;
    EXPECT_NE(gap.error().message.find("America/Chicago"), std::string::npos);
    EXPECT_NE(gap.error().message.find("gap"), std::string::npos);
}

TEST(LocalTime, ATimeInAnOverlapTakesTheEarlierInstantWithAWarning) {
    std::vector<std::string> warnings;
    ParseOptions o{"", &warnings};
    auto overlap = parse_tour(tour_with("2026-11-01T01:30:00", R"(,"timeZone":"America/Chicago")"), "tourData", nullptr, o);
    ASSERT_TRUE(overlap) << overlap.error().describe();
    EXPECT_EQ(overlap->properties[0].visit_time.utc_iso(), "2026-11-01T06:30:00Z");   // 01:30 CDT, the earlier
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(warnings[0].rfind("tourData.properties[0].visitTime: ", 0), 0u) << warnings[0];
    EXPECT_NE(warnings[0].find("earlier"), std::string::npos);
    // Feedback timestamps follow the same rule.
    warnings.clear();
    auto fb = parse_feedback(json::parse(R"({"propertyId":"P","tourId":"T","feedback":"ok",
        "timestamp":"2026-11-01T01:30:00","timeZone":"America/Chicago"})"), "feedbackData", nullptr, o);
    ASSERT_TRUE(fb) << fb.error().describe();
    EXPECT_EQ(warnings.size(), 1u);
}

TEST(LocalTime, WithoutAnyZoneTheCallIsRefusedNamingTheWaysToGiveOne) {
    auto none = parse_tour(tour_with("2026-12-05T10:00:00"));
    ASSERT_FALSE(none);
    const auto& m = none.error().message;
    EXPECT_EQ(m.rfind("tourData.properties[0].visitTime: ", 0), 0u) << m;
    for (const char* way : {"tourData.properties[0].timeZone", "tourData.timeZone", "configure_rollout timeZone"})
        EXPECT_NE(m.find(way), std::string::npos) << way << " in " << m;
    auto fb = parse_feedback(json::parse(R"({"propertyId":"P","tourId":"T","feedback":"ok","timestamp":"2026-12-05T10:00"})"));
    ASSERT_FALSE(fb);
    EXPECT_NE(fb.error().message.find("feedbackData.timeZone"), std::string::npos) << fb.error().message;
    EXPECT_FALSE(parse_tour(tour_with("tomorrow", R"(,"timeZone":"America/Chicago")")));
}

TEST(LocalTime, UnknownZonesAreRefused) {
    auto bad = parse_tour(tour_with("2026-12-05T10:00:00Z", R"(,"timeZone":"Mars/Olympus")"));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message.rfind("tourData.timeZone: ", 0), 0u) << bad.error().message;
    EXPECT_FALSE(is_known_time_zone("../../etc/passwd"));
    EXPECT_TRUE(is_known_time_zone("Europe/Paris"));
}

TEST(OneBuyerPerTour, PerVisitBuyerIdsMustAllBeTheToursBuyer) {
    auto same = parse_tour(json::parse(R"({"tourId":"T","agentId":"A","properties":[
        {"propertyId":"P1","address":"a","visitTime":"2026-12-05T10:00:00Z","buyerId":"B1"},
        {"propertyId":"P2","address":"b","visitTime":"2026-12-05T11:00:00Z","buyerId":"B1"}]})"));
    ASSERT_TRUE(same) << same.error().describe();
    EXPECT_EQ(same->buyer_id, "B1");   // the visits name the tour's buyer
    auto other = parse_tour(json::parse(R"({"tourId":"T","agentId":"A","buyerId":"B1","properties":[
        {"propertyId":"P1","address":"a","visitTime":"2026-12-05T10:00:00Z","buyerId":"B1"},
        {"propertyId":"P2","address":"b","visitTime":"2026-12-05T11:00:00Z","buyerId":"B2"}]})"));
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().message.rfind("tourData.properties[1].buyerId: ", 0), 0u) << other.error().message;
}

}  // namespace
}  // namespace rollout_mcp::rollout
