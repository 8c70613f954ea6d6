// One buyer, one contact (REanna's real call order): a tour without a buyer puts its visits on a placeholder
// named after the tour; feedback naming the buyer binds that placeholder instead of making a second
// contact; feedback before its tour, and a tour sent again with buyer details, converge on the same
// contact; a contact the buyer already has in the CRM wins (visits re-pointed, placeholder tagged
// reanna:superseded, never deleted). Checked in two CRMs against the fake Rollout.
#include "sync_harness.hpp"

#include "rollout/adapters/adapter.hpp"
#include "rollout/model.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using storage::JobStatus;

json::object tour(const std::string& id, std::optional<std::string> buyer = std::nullopt,
                  std::optional<json::object> details = std::nullopt) {
    json::array props;
    const char* addresses[] = {"1420 Maple Ave, Austin TX", "77 Oak St, Austin TX", "9 Elm Ct, Austin TX"};
    for (int i = 0; i < 3; ++i)
        props.push_back(json::object{{"propertyId", "P" + std::to_string(i + 1)}, {"address", addresses[i]},
                                     {"visitTime", "2026-12-05T1" + std::to_string(i) + ":00:00-06:00"}});
    json::object t{{"tourId", id}, {"agentId", "agent-7"}, {"properties", std::move(props)}};
    if (buyer) t["buyerId"] = *buyer;
    if (details) t["buyer"] = *details;
    return t;
}

json::object feedback(const std::string& tour_id, const std::string& property, const std::string& buyer) {
    return json::object{{"propertyId", property}, {"tourId", tour_id}, {"buyerId", buyer},
                        {"feedback", "Loved the light in the kitchen"}, {"timestamp", "2026-12-05T12:00:00-06:00"}};
}

class BuyerIdentity : public ::testing::Test {
protected:
    void SetUp() override {
        team = h.add_team("buyers", crms);
        h.start();
    }
    // Enqueues one job per CRM and waits until each succeeded.
    void sync(const std::string& kind, const json::object& payload) {
        storage::SyncRequest request;
        request.tenant_id = team;
        std::string subject, tour_id, lock;
        if (kind == "tour") {
            auto t = rollout::parse_tour(payload);
            ASSERT_TRUE(t) << t.error().describe();
            subject = tour_id = t->tour_id;
            lock = rollout::buyer_local_id(t->buyer_id, t->tour_id);
        } else {
            auto f = rollout::parse_feedback(payload);
            ASSERT_TRUE(f) << f.error().describe();
            subject = rollout::feedback_local_id(*f);
            tour_id = f->tour_id;
            lock = rollout::buyer_local_id(f->buyer_id, f->tour_id);
        }
        for (const auto& crm : crms) request.jobs.push_back({crm, kind, subject, tour_id, lock, json::serialize(payload)});
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        auto r = h.on_storage([request, now](storage::Storage& s) { return s.enqueue_sync(request, now); });
        ASSERT_TRUE(r) << r.error().message;
        h.worker().wake();
        for (const auto& id : r->job_ids) {
            auto j = h.wait_finished(team, id);
            ASSERT_EQ(j.status, JobStatus::succeeded) << kind << " " << j.crm_type << ": " << j.last_error;
        }
    }
    std::vector<json::object> records(const std::string& crm, const std::string& kind) {
        return h.fake().records(h.credential(team, crm), kind);
    }
    static bool tagged(const json::object& person, const std::string& tag) {
        for (const auto& t : person.at("tags").as_array())
            if (t.as_string() == tag) return true;
        return false;
    }
    // Every appointment and note of the CRM is on `person_id`.
    void all_on(const std::string& crm, const std::string& person_id, std::size_t appointments, std::size_t notes) {
        auto a = records(crm, "appointments");
        EXPECT_EQ(a.size(), appointments) << crm;
        for (const auto& x : a) EXPECT_EQ(x.at("personId").as_string(), person_id) << crm << " appointment";
        auto n = records(crm, "notes");
        EXPECT_EQ(n.size(), notes) << crm;
        for (const auto& x : n) EXPECT_EQ(x.at("personId").as_string(), person_id) << crm << " note";
    }
    std::string tag(const std::string& id) { return "reanna:" + team + ":buyer:" + id; }

    Harness h;
    std::vector<std::string> crms{"highlevel", "lofty"};
    std::string team;
};

TEST_F(BuyerIdentity, TourThenFeedbackLeavesOneContactPerCrm) {
    sync("tour", tour("T1"));
    for (const auto& crm : crms) {
        auto people = records(crm, "people");
        ASSERT_EQ(people.size(), 1u) << crm;
        EXPECT_EQ(people[0].at("firstName").as_string(), "Buyer");
        EXPECT_EQ(people[0].at("lastName").as_string(), "\u2014 tour Dec 5, 1420 Maple Ave, Austin TX");
    }
    sync("feedback", feedback("T1", "P2", "B-1"));
    sync("tour", tour("T1"));                           // REanna repeats both
    sync("feedback", feedback("T1", "P2", "B-1"));
    for (const auto& crm : crms) {
        auto people = records(crm, "people");
        ASSERT_EQ(people.size(), 1u) << crm << ": " << json::serialize(json::value_from(people));
        EXPECT_TRUE(tagged(people[0], tag("B-1"))) << crm;
        all_on(crm, std::string(people[0].at("id").as_string()), 3, 1);
    }
    // A later tour of the same buyer (buyerId given) finds that contact.
    sync("tour", tour("T2", std::string("B-1")));
    for (const auto& crm : crms) {
        auto people = records(crm, "people");
        ASSERT_EQ(people.size(), 1u) << crm;
        all_on(crm, std::string(people[0].at("id").as_string()), 6, 1);
    }
}

TEST_F(BuyerIdentity, FeedbackBeforeItsTourConverges) {
    sync("feedback", feedback("T3", "P1", "B-3"));
    sync("tour", tour("T3"));                           // the tour names no buyer; the feedback bound it
    for (const auto& crm : crms) {
        auto people = records(crm, "people");
        ASSERT_EQ(people.size(), 1u) << crm;
        EXPECT_TRUE(tagged(people[0], tag("B-3")));
        all_on(crm, std::string(people[0].at("id").as_string()), 3, 1);
    }
}

TEST_F(BuyerIdentity, TourWithBuyerDetailsUpgradesThePlaceholderInPlace) {
    sync("tour", tour("T4"));
    const auto placeholder = std::string(records("highlevel", "people")[0].at("id").as_string());
    sync("tour", tour("T4", std::string("B-4"), json::object{{"name", "Dana Reyes"}, {"email", "dana@example.com"},
                                                             {"phone", "512-555-0100"}}));
    for (const auto& crm : crms) {
        auto people = records(crm, "people");
        ASSERT_EQ(people.size(), 1u) << crm;
        EXPECT_EQ(people[0].at("firstName").as_string(), "Dana") << crm;
        EXPECT_EQ(people[0].at("lastName").as_string(), "Reyes") << crm;
        EXPECT_TRUE(tagged(people[0], tag("B-4")));
        EXPECT_EQ(people[0].at("emails").as_array()[0].at("value").as_string(), "dana@example.com");
        all_on(crm, std::string(people[0].at("id").as_string()), 3, 0);
    }
    EXPECT_EQ(records("highlevel", "people")[0].at("id").as_string(), placeholder);
}

TEST_F(BuyerIdentity, AContactTheBuyerAlreadyHasWinsAndThePlaceholderIsSuperseded) {
    for (const auto& crm : crms)   // the agent already has this buyer
        h.fake().put_record(h.credential(team, crm), "people",
                            json::object{{"firstName", "Dana"}, {"lastName", "Reyes"}, {"tags", json::array{}},
                                         {"emails", json::array{json::object{{"value", "dana@example.com"}}}}});
    sync("tour", tour("T5"));
    sync("tour", tour("T5", std::string("B-5"), json::object{{"email", "dana@example.com"}}));
    sync("feedback", feedback("T5", "P3", "B-5"));
    for (const auto& crm : crms) {
        auto people = records(crm, "people");
        ASSERT_EQ(people.size(), 2u) << crm << ": the placeholder stays for the agent";
        const auto& existing = people[0].at("emails").as_array().empty() ? people[1] : people[0];
        const auto& placeholder = &existing == &people[0] ? people[1] : people[0];
        EXPECT_EQ(existing.at("firstName").as_string(), "Dana");
        EXPECT_TRUE(tagged(existing, tag("B-5")));
        EXPECT_TRUE(tagged(placeholder, "reanna:superseded")) << crm;
        all_on(crm, std::string(existing.at("id").as_string()), 3, 1);
    }
}

TEST_F(BuyerIdentity, FeedbackForABuyerWithAContactRepointsThePlaceholdersVisits) {
    sync("feedback", feedback("T6a", "P1", "B-6"));   // the buyer's contact exists (an earlier tour's feedback)
    sync("tour", tour("T6"));                         // a new tour without a buyer: a placeholder
    sync("feedback", feedback("T6", "P2", "B-6"));    // names the buyer: its contact wins
    for (const auto& crm : crms) {
        auto people = records(crm, "people");
        ASSERT_EQ(people.size(), 2u) << crm;
        const auto& buyer = tagged(people[0], tag("B-6")) ? people[0] : people[1];
        const auto& placeholder = &buyer == &people[0] ? people[1] : people[0];
        EXPECT_TRUE(tagged(placeholder, "reanna:superseded")) << crm;
        all_on(crm, std::string(buyer.at("id").as_string()), 3, 2);
    }
}

}  // namespace
}  // namespace rollout_mcp::sync_test
