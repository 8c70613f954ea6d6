// The appointment type's id is kept in the ledger ("appointment_type", the type's name), so only a team's first tour
// in a CRM lists the types (issue 21: one Rollout call less per tour). A type deleted in the CRM since is looked
// up again once, and the refused write sent again with the new id: nothing is written twice. A refusal that is not
// about the type fails as before after that one look-up. Against the fake (which refuses an unknown type with 400).
#include "sync_harness.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using storage::JobStatus;

json::object tour(const std::string& id) {
    json::array props;
    for (int i = 1; i <= 2; ++i)
        props.push_back(json::object{{"propertyId", "P" + std::to_string(i)}, {"address", std::to_string(i) + " Main St"},
                                     {"visitTime", "2026-12-05T1" + std::to_string(i) + ":00:00-06:00"}});
    return json::object{{"tourId", id}, {"agentId", "a"}, {"buyerId", "B-" + id}, {"properties", std::move(props)}};
}

class AppointmentTypeLedger : public ::testing::Test {
protected:
    void SetUp() override {
        team = h.add_team("types");
        cred = h.credential(team, "highlevel");
        h.start();
    }
    storage::SyncJobInfo sync(const std::string& tour_id) {
        auto ids = h.enqueue_tour(team, tour(tour_id));
        return h.wait_finished(team, ids.at(0));
    }
    int calls(const std::string& method, const std::string& path) {
        int n = 0;
        for (const auto& r : h.fake().requests()) n += r.method == method && r.path == "/crm/api" + path;
        return n;
    }
    std::string type_in_ledger() {
        auto rows = h.on_storage([&](storage::Storage& s) { return s.sync_ledger(team, "highlevel", {"Showing"}); });
        EXPECT_TRUE(rows) << rows.error().message;
        for (const auto& e : *rows)
            if (e.entity_kind == "appointment_type") return e.external_id;
        return {};
    }
    std::string showing_type() {
        for (const auto& t : h.fake().records(cred, "appointment-types"))
            if (t.at("name") == "Showing") return std::string(t.at("id").as_string());
        return {};
    }

    Harness h;
    std::string team, cred;
};

TEST_F(AppointmentTypeLedger, OnlyTheFirstTourListsTheTypes) {
    auto first = sync("T1");
    ASSERT_EQ(first.status, JobStatus::succeeded) << first.last_error;
    EXPECT_EQ(calls("GET", "/appointment-types"), 1);
    EXPECT_EQ(type_in_ledger(), showing_type());
    h.fake().clear_requests();
    for (const char* id : {"T2", "T3"}) {
        auto j = sync(id);
        ASSERT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    }
    EXPECT_EQ(calls("GET", "/appointment-types"), 0) << "the ledger's type id is used";
    EXPECT_EQ(calls("POST", "/appointments"), 4);
    for (const auto& a : h.fake().records(cred, "appointments")) EXPECT_EQ(json::serialize(a.at("appointmentTypeId")), json::serialize(json::value(showing_type())));
    // The sync's result lists CRM records only: the type's ledger row is not one.
    auto again = sync("T3");
    EXPECT_EQ(again.result_json.find("appointment_type"), std::string::npos) << again.result_json;
}

TEST_F(AppointmentTypeLedger, ATypeDeletedInTheCrmIsLookedUpAgainAndTheVisitWrittenOnce) {
    ASSERT_EQ(sync("T1").status, JobStatus::succeeded);
    const std::string old_type = showing_type();
    ASSERT_TRUE(h.fake().remove_record(cred, "appointment-types", old_type));
    h.fake().clear_requests();
    auto j = sync("T2");
    ASSERT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    const std::string new_type = showing_type();
    ASSERT_FALSE(new_type.empty());
    EXPECT_NE(new_type, old_type);
    EXPECT_EQ(calls("GET", "/appointment-types"), 1) << "looked up once";
    EXPECT_EQ(calls("POST", "/appointment-types"), 1) << "and created again, by name";
    EXPECT_EQ(calls("POST", "/appointments"), 3) << "the refused one, then each visit once";
    EXPECT_EQ(type_in_ledger(), new_type);
    int on_t2 = 0;
    for (const auto& a : h.fake().records(cred, "appointments")) {
        if (json::serialize(a).find(":visit:T2/") == std::string::npos) continue;
        ++on_t2;
        EXPECT_EQ(json::serialize(a.at("appointmentTypeId")), json::serialize(json::value(new_type)));
    }
    EXPECT_EQ(on_t2, 2) << "one appointment per visit";
    h.fake().clear_requests();
    ASSERT_EQ(sync("T3").status, JobStatus::succeeded);
    EXPECT_EQ(calls("GET", "/appointment-types"), 0);
}

TEST_F(AppointmentTypeLedger, ARefusalNotAboutTheTypeFailsAfterOneLookUp) {
    ASSERT_EQ(sync("T1").status, JobStatus::succeeded);
    fake::FaultRule refuse;
    refuse.method = "POST";
    refuse.path_prefix = "/crm/api/appointments";
    refuse.status = 400;
    refuse.body = R"({"errorMessage":"title is too long"})";
    refuse.count = -1;
    h.fake().add_fault(refuse);
    h.fake().clear_requests();
    auto j = sync("T2");
    EXPECT_EQ(j.status, JobStatus::failed);
    EXPECT_NE(j.last_error.find("title is too long"), std::string::npos) << j.last_error;
    EXPECT_EQ(calls("GET", "/appointment-types"), 1);
    EXPECT_EQ(calls("POST", "/appointments"), 1) << "the same type: not sent again";
    EXPECT_EQ(calls("POST", "/appointment-types"), 0);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
