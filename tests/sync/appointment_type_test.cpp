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

json::object tour(const std::string& id, int hour = 1) {
    json::array props;
    for (int i = 1; i <= 2; ++i)
        props.push_back(json::object{{"propertyId", "P" + std::to_string(i)}, {"address", std::to_string(i) + " Main St"},
                                     {"visitTime", "2026-12-05T1" + std::to_string(i + hour - 1) + ":00:00-06:00"}});
    return json::object{{"tourId", id}, {"agentId", "a"}, {"buyerId", "B-" + id}, {"properties", std::move(props)}};
}

class AppointmentTypeLedger : public ::testing::Test {
protected:
    void SetUp() override {
        team = h.add_team("types");
        cred = h.credential(team, "highlevel");
        h.start();
    }
    storage::SyncJobInfo sync(const std::string& tour_id, int hour = 1) {
        auto ids = h.enqueue_tour(team, tour(tour_id, hour));
        return h.wait_finished(team, ids.at(0));
    }
    // The tour's appointments in the CRM, each checked to carry the type `type_id`.
    int appointments_of(const std::string& tour_id, const std::string& type_id) {
        int n = 0;
        for (const auto& a : h.fake().records(cred, "appointments")) {
            if (json::serialize(a).find(":visit:" + tour_id + "/") == std::string::npos) continue;
            ++n;
            EXPECT_EQ(json::serialize(a.at("appointmentTypeId")), json::serialize(json::value(type_id)));
        }
        return n;
    }
    fake::FaultRule fault(const std::string& method, const std::string& path, unsigned status, std::string body, int count) {
        fake::FaultRule f;
        f.method = method;
        f.path_prefix = "/crm/api" + path;
        f.status = status;
        f.body = std::move(body);
        f.count = count;
        return f;
    }
    // Requests to the collection `path` or to one of its records ("/appointments", "/appointments/{id}").
    int calls(const std::string& method, const std::string& path) {
        int n = 0;
        const std::string collection = "/crm/api" + path;
        for (const auto& r : h.fake().requests())
            n += r.method == method && (r.path == collection || r.path.rfind(collection + "/", 0) == 0);
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
    ASSERT_EQ(again.status, JobStatus::succeeded) << again.last_error;
    EXPECT_NE(again.result_json.find("unchanged"), std::string::npos) << again.result_json;
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
    EXPECT_EQ(appointments_of("T2", new_type), 2) << "one appointment per visit";
    h.fake().clear_requests();
    ASSERT_EQ(sync("T3").status, JobStatus::succeeded);
    EXPECT_EQ(calls("GET", "/appointment-types"), 0);
}

TEST_F(AppointmentTypeLedger, AnUpdateRefusedForADeletedTypeIsSentAgainNeverCreatedTwice) {
    ASSERT_EQ(sync("T1").status, JobStatus::succeeded);
    ASSERT_TRUE(h.fake().remove_record(cred, "appointment-types", showing_type()));
    // The tour again, a visit moved: updates naming the deleted type (the fake answers 400).
    auto moved = sync("T1", 3);
    ASSERT_EQ(moved.status, JobStatus::succeeded) << moved.last_error;
    EXPECT_EQ(appointments_of("T1", showing_type()), 2) << "updated in place, with the new type";
    // Once more with the type deleted, and the CRM answering the update "not found" (some CRMs say so of a missing
    // reference): the type is looked up before the appointment is taken for gone, so it is not made twice.
    ASSERT_TRUE(h.fake().remove_record(cred, "appointment-types", showing_type()));
    h.fake().add_fault(fault("PUT", "/appointments", 404, R"({"errorMessage":"Not found"})", 1));
    h.fake().clear_requests();
    auto again = sync("T1", 5);
    ASSERT_EQ(again.status, JobStatus::succeeded) << again.last_error;
    EXPECT_EQ(calls("POST", "/appointments"), 0) << "nothing created";
    EXPECT_EQ(calls("PUT", "/appointments"), 3) << "the refused one, then each visit once";
    EXPECT_EQ(appointments_of("T1", showing_type()), 2);
}

TEST_F(AppointmentTypeLedger, AWriteCutOffAfterItLandedIsFoundByItsMarkerNotCreatedAgain) {
    ASSERT_EQ(sync("T1").status, JobStatus::succeeded);
    ASSERT_TRUE(h.fake().remove_record(cred, "appointment-types", showing_type()));
    // The first two creates are refused (deleted type) and then reset: the client cannot know they were refused.
    auto cut = fault("POST", "/appointments", 0, "", 2);
    cut.action = fake::FaultRule::Action::reset_after_write;
    h.fake().add_fault(cut);
    auto j = sync("T2");
    ASSERT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    EXPECT_GE(j.attempts, 3);
    EXPECT_EQ(appointments_of("T2", showing_type()), 2) << "one appointment per visit";
}

TEST_F(AppointmentTypeLedger, AFailedLookUpKeepsTheCrmsRefusalAndTheJobFailsOnce) {
    ASSERT_EQ(sync("T1").status, JobStatus::succeeded);
    h.fake().add_fault(fault("POST", "/appointments", 400, R"({"errorMessage":"startsAt is in the past"})", 1));
    h.fake().add_fault(fault("GET", "/appointment-types", 503, R"({"errorMessage":"Service Unavailable"})", -1));
    auto j = sync("T2");
    EXPECT_EQ(j.status, JobStatus::failed) << "a validation error fails at once";
    EXPECT_EQ(j.attempts, 1);
    EXPECT_NE(j.last_error.find("startsAt is in the past"), std::string::npos) << j.last_error;
    EXPECT_NE(j.last_error.find("looking the appointment type up again also failed"), std::string::npos) << j.last_error;
}

TEST_F(AppointmentTypeLedger, ACrmThatNoLongerHasAppointmentTypesGetsTasksForANewTourOnly) {
    ASSERT_EQ(sync("T1").status, JobStatus::succeeded);
    ASSERT_TRUE(h.fake().remove_record(cred, "appointment-types", showing_type()));
    h.fake().add_fault(fault("GET", "/appointment-types", 404, R"({"errorMessage":"Not found"})", -1));
    auto fresh = sync("T2");
    ASSERT_EQ(fresh.status, JobStatus::succeeded) << fresh.last_error;
    int tasks = 0;
    for (const auto& t : h.fake().records(cred, "tasks")) tasks += json::serialize(t).find(":visit:T2/") != std::string::npos;
    EXPECT_EQ(tasks, 2) << "tasks, as a first tour in such a CRM would have made";
    EXPECT_EQ(appointments_of("T2", ""), 0);
    // A tour that already has appointments never gets tasks beside them: it fails with the CRM's refusal.
    auto moved = sync("T1", 3);
    EXPECT_EQ(moved.status, JobStatus::failed);
    EXPECT_NE(moved.last_error.find("does not exist"), std::string::npos) << moved.last_error;
    for (const auto& t : h.fake().records(cred, "tasks")) EXPECT_EQ(json::serialize(t).find(":visit:T1/"), std::string::npos);
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
