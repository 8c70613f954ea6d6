// Canonical model parsing: ISO 8601 with offsets, field-named validation errors, CRM type aliases.
#include "rollout/adapters/adapter.hpp"
#include "rollout/model.hpp"
#include "test_support.hpp"

namespace rollout_mcp::rollout::test {
namespace {

TEST(Model, Iso8601WithOffsets) {
    auto t = parse_iso8601("2026-03-01T14:00:00-06:00").value();
    EXPECT_EQ(t.utc_iso(), "2026-03-01T20:00:00Z");
    EXPECT_EQ(t.local_iso(), "2026-03-01T14:00:00-06:00");
    EXPECT_EQ(t.offset_minutes, -360);
    EXPECT_EQ(t.plus_minutes(45).local_iso(), "2026-03-01T14:45:00-06:00");
    EXPECT_EQ(parse_iso8601("2026-03-01T20:00Z")->utc_seconds, t.utc_seconds);
    EXPECT_EQ(parse_iso8601("2026-03-02T01:30:00.250+0530")->utc_iso(), "2026-03-01T20:00:00Z");
    EXPECT_EQ(parse_iso8601("2026-12-31T23:30:00-01:00")->utc_iso(), "2027-01-01T00:30:00Z");
    EXPECT_EQ(parse_iso8601("2026-01-01T00:30:00+01:00")->utc_iso(), "2025-12-31T23:30:00Z");
    for (const char* bad : {"2026-03-01T14:00:00", "2026-03-01", "2026-02-30T10:00:00Z", "2026-03-01T25:00:00Z",
                            "2026-03-01 14:00:00Z", "tomorrow", "2026-03-01T14:00:00+5", "2026-03-01T14:00:00Zjunk"})
        EXPECT_FALSE(parse_iso8601(bad)) << bad;
}

TEST(Model, ParsesATour) {
    auto t = parse_tour(J(R"({"tourId":"T-1","agentId":77,"agentEmail":"a@team.com","buyerId":"B-17",
        "buyer":{"name":"Ann Lee","email":"ann@x.com","phone":"+1 512 555 0100"},"timeZone":"America/Chicago",
        "properties":[{"propertyId":"P-1","address":"123 Main St","visitTime":"2026-03-01T14:00:00-06:00",
                       "durationMinutes":45,"notes":"gate code 1234"},
                      {"propertyId":"P-2","address":"9 Oak Ave","visitTime":"2026-03-01T21:00:00Z"}],
        "extra":"ignored"})"));
    ASSERT_TRUE(t) << t.error().describe();
    EXPECT_EQ(t->agent_id, "77");
    EXPECT_EQ(t->buyer->name.value(), "Ann Lee");
    ASSERT_EQ(t->properties.size(), 2u);
    EXPECT_EQ(t->properties[0].duration_minutes.value(), 45);
    EXPECT_EQ(t->properties[1].visit_time.offset_minutes, 0);
}

TEST(Model, TourErrorsNameTheField) {
    struct Case {
        const char* json;
        const char* message;
    };
    const Case cases[] = {
        {R"([])", "tourData: must be an object"},
        {R"({"agentId":"A","properties":[]})", "tourData.tourId: required"},
        {R"({"tourId":"","agentId":"A"})", "tourData.tourId: must not be empty"},
        {R"({"tourId":"T","agentId":"A"})", "tourData.properties: required"},
        {R"({"tourId":"T","agentId":"A","properties":[]})", "tourData.properties: must contain at least one property visit"},
        {R"({"tourId":"T","agentId":true,"properties":[]})", "tourData.agentId: must be a string or an integer"},
        {R"({"tourId":"T","agentId":"A","properties":[{"propertyId":"P","address":"x","visitTime":"2026-03-01T10:00:00Z"},
            {"propertyId":"Q","address":"y","visitTime":"2026-03-01 10:00"}]})",
         "tourData.properties[1].visitTime: not an ISO 8601 date-time (e.g. 2026-03-01T14:00:00-06:00, or a local 2026-03-01T14:00:00 with a time zone), got \"2026-03-01 10:00\""},
        {R"({"tourId":"T","agentId":"A","properties":[{"propertyId":"P","visitTime":"2026-03-01T10:00:00Z"}]})",
         "tourData.properties[0].address: required"},
        {R"({"tourId":"T","agentId":"A","properties":[{"propertyId":"P","address":"x","visitTime":"2026-03-01T10:00:00Z","durationMinutes":0}]})",
         "tourData.properties[0].durationMinutes: must be an integer from 1 to 1440"},
        {R"({"tourId":"T","agentId":"A","buyer":{"email":"nope"},"properties":[{"propertyId":"P","address":"x","visitTime":"2026-03-01T10:00:00Z"}]})",
         "tourData.buyer.email: must be an email address"},
        {R"({"tourId":"T","agentId":"A","properties":[{"propertyId":"P","address":"x","visitTime":"2026-03-01T10:00:00Z"},
            {"propertyId":"P","address":"y","visitTime":"2026-03-01T11:00:00Z"}]})",
         "tourData.properties[1].propertyId: duplicate \"P\" in this tour"},
    };
    for (const auto& c : cases) {
        auto r = parse_tour(J(c.json));
        ASSERT_FALSE(r) << c.json;
        EXPECT_EQ(r.error().code, ErrorKind::validation);
        EXPECT_EQ(r.error().message, c.message);
    }
}

TEST(Model, Feedback) {
    auto f = parse_feedback(J(R"({"propertyId":"P-1","tourId":"T-1","buyerId":"B-17","feedback":"Loved the kitchen",
        "rating":4.5,"interestLevel":"high","timestamp":"2026-03-01T15:05:00-06:00"})"));
    ASSERT_TRUE(f) << f.error().describe();
    EXPECT_EQ(*f->rating, 4.5);
    EXPECT_EQ(feedback_local_id(*f), "T-1/P-1/B-17");
    auto no_buyer = parse_feedback(J(R"({"propertyId":"P-1","tourId":"T-1","feedback":"ok"})"));
    ASSERT_TRUE(no_buyer);
    EXPECT_EQ(feedback_local_id(*no_buyer), "T-1/P-1/tour-T-1");
    EXPECT_EQ(parse_feedback(J(R"({"propertyId":"P","tourId":"T","feedback":"x","rating":9})")).error().message,
              "feedbackData.rating: must be a number from 0 to 5");
    EXPECT_EQ(parse_feedback(J(R"({"propertyId":"P","tourId":"T"})")).error().message,
              "feedbackData.feedback: required");
    EXPECT_EQ(parse_feedback(J(R"({"propertyId":"P","tourId":"T","feedback":"x","timestamp":"yesterday"})"))
                  .error().message.rfind("feedbackData.timestamp: not an ISO 8601", 0), 0u);
}

// to_json is the normalized payload the outbox stores: parsing it gives back an equal value.
TEST(Model, NormalizedJsonRoundTrips) {
    auto t = parse_tour(J(R"({"tourId":"T-1","agentId":77,"agentEmail":"a@team.com","buyerId":"B-17",
        "buyer":{"name":"Ann Lee","email":"ann@x.com","phone":"+1 512 555 0100","extra":1},"timeZone":"America/Chicago",
        "properties":[{"propertyId":"P-1","address":"123 Main St","visitTime":"2026-03-01T14:00:00.250-0600",
                       "durationMinutes":45,"notes":"gate code 1234"},
                      {"propertyId":"P-2","address":"9 Oak Ave","visitTime":"2026-03-01T21:00:00Z"}],
        "extra":"ignored"})"));
    ASSERT_TRUE(t) << t.error().describe();
    const boost::json::value tour_json = to_json(*t);
    EXPECT_EQ(tour_json.at("agentId"), "77");   // ids are normalized to text
    EXPECT_FALSE(tour_json.as_object().contains("extra"));
    EXPECT_EQ(tour_json.at("properties").at(0).at("visitTime"), "2026-03-01T14:00:00.250-0600");   // as given
    auto again = parse_tour(tour_json);
    ASSERT_TRUE(again) << again.error().describe();
    EXPECT_EQ(*again, *t);
    auto minimal = parse_tour(J(R"({"tourId":"T","agentId":"A","properties":[
        {"propertyId":"P","address":"x","visitTime":"2026-03-01T10:00Z"}]})"));
    ASSERT_TRUE(minimal);
    EXPECT_EQ(parse_tour(to_json(*minimal)).value(), *minimal);

    for (const char* text : {R"({"propertyId":"P-1","tourId":"T-1","buyerId":"B-17","feedback":"Loved it","rating":4,
                                "interestLevel":"high","timestamp":"2026-03-01T15:05:00-06:00","address":"1 Main St"})",
                             R"({"propertyId":7,"tourId":"T","feedback":"ok","rating":4.25})",
                             R"({"propertyId":"P","tourId":"T","feedback":"ok"})"}) {
        auto f = parse_feedback(J(text));
        ASSERT_TRUE(f) << text;
        auto back = parse_feedback(to_json(*f));
        ASSERT_TRUE(back) << text;
        EXPECT_EQ(*back, *f) << text;
    }
}

TEST(Model, CrmTypeAliases) {
    EXPECT_EQ(canonical_crm_type("gohighlevel"), "highlevel");
    EXPECT_EQ(canonical_crm_type("GoHighLevel"), "highlevel");
    EXPECT_EQ(canonical_crm_type("highlevel"), "highlevel");
    EXPECT_EQ(canonical_crm_type("followupboss"), "follow-up-boss");
    EXPECT_EQ(canonical_crm_type("fub"), "follow-up-boss");
    EXPECT_EQ(canonical_crm_type("follow_up_boss"), "follow-up-boss");
    EXPECT_EQ(canonical_crm_type("kvcore"), "boldtrail");
    EXPECT_EQ(canonical_crm_type("chime"), "lofty");
    EXPECT_EQ(canonical_crm_type(" Lofty "), "lofty");
    EXPECT_EQ(canonical_crm_type("hubspot"), "hubspot");
    EXPECT_EQ(make_adapter("fub")->crm_type(), "follow-up-boss");
    EXPECT_EQ(make_adapter("cinc")->crm_type(), "cinc");
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
