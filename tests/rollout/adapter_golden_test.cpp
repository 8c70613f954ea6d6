// Golden tests per adapter: a given tour / feedback produces exactly these Rollout requests (method, target,
// credential header, JSON body), against a small in-memory CRM stub on a loopback socket; and, against the fake
// Rollout emulating a CRM, the records a sync returns carry the watched state of what the CRM stored.
#include "rollout/adapters/adapter.hpp"
#include "rollout/crm_watch.hpp"
#include "test_support.hpp"

#include <boost/json/serialize.hpp>

namespace rollout_mcp::rollout::test {
namespace {
namespace json = boost::json;

// A minimal Rollout CRM host: lists from a few canned collections, creates numbered records.
struct MiniCrm {
    json::array people;          // what GET /people returns (any filter)
    json::array appointments;    // what GET /appointments returns
    json::value person_id = "person-1";
    std::mutex mu;
    std::map<std::string, int> counters;

    static ScriptedReply list(const char* collection, const json::array& items) {
        json::object o;
        o["_metadata"] = json::object{{"collection", collection}, {"offset", 0}, {"limit", 100},
                                      {"total", items.size()}, {"next", nullptr}};
        o[collection] = items;
        return ScriptedReply{200, json::serialize(o)};
    }
    ScriptedReply operator()(const RecordedRequest& q) {
        const std::string path = q.target.substr(0, q.target.find('?'));
        if (q.method == "GET" && path == "/crm/api/people") return list("people", people);
        if (q.method == "GET" && path == "/crm/api/users")
            return list("users", json::array{json::object{{"id", "u-7"}, {"email", "Agent@Team.com"}}});
        if (q.method == "GET" && path == "/crm/api/appointment-types")
            return list("appointmentTypes", json::array{json::object{{"id", "at-1"}, {"name", "Showing"}}});
        if (q.method == "GET" && path == "/crm/api/appointments") return list("appointments", appointments);
        if (q.method == "POST") {
            json::object rec = q.json.as_object();
            if (path == "/crm/api/people") rec["id"] = person_id;
            else {
                std::lock_guard lock(mu);
                const std::string kind = path.substr(path.rfind('/') + 1);
                rec["id"] = kind.substr(0, 4) + "-" + std::to_string(++counters[kind]);
            }
            return ScriptedReply{201, json::serialize(rec)};
        }
        if (q.method == "PUT") {
            json::object rec = q.json.as_object();
            rec["id"] = path.substr(path.rfind('/') + 1);
            return ScriptedReply{200, json::serialize(rec)};
        }
        return ScriptedReply{404, R"({"errorMessage":"no such route"})"};
    }
};

struct Expected {
    std::string method;
    std::string target;
    const char* body = nullptr;  // JSON text, nullptr = no body
};

void expect_requests(const ScriptedRollout& stub, const std::vector<Expected>& want, const std::string& cred) {
    auto got = stub.requests();
    ASSERT_EQ(got.size(), want.size()) << [&] {
        std::string s;
        for (const auto& r : got) s += r.method + " " + r.target + " " + r.body + "\n";
        return s;
    }();
    for (std::size_t i = 0; i < want.size(); ++i) {
        SCOPED_TRACE("request " + std::to_string(i) + ": " + want[i].method + " " + want[i].target);
        EXPECT_EQ(got[i].method, want[i].method);
        EXPECT_EQ(got[i].target, want[i].target);
        EXPECT_EQ(got[i].headers.at("x-rollout-credential-id"), cred);
        EXPECT_EQ(got[i].headers.at("authorization").rfind("Bearer ey", 0), 0u);
        if (want[i].body) {
            EXPECT_EQ(got[i].headers.at("content-type"), "application/json");
            EXPECT_EQ(got[i].json, J(want[i].body)) << got[i].body;
        } else {
            EXPECT_TRUE(got[i].body.empty()) << got[i].body;
        }
    }
}

Tour sample_tour() {
    return parse_tour(J(R"({"tourId":"T-1","agentId":"A-9","agentEmail":"agent@team.com","buyerId":"B-17",
        "buyer":{"name":"Ann Lee","email":"ann@x.com","phone":"(512) 555-0100"},"timeZone":"America/Chicago",
        "properties":[{"propertyId":"P-1","address":"123 Main St, Austin TX","visitTime":"2026-03-01T14:00:00-06:00",
                       "durationMinutes":45,"notes":"Gate code 1234"},
                      {"propertyId":"P-2","address":"9 Oak Ave, Austin TX","visitTime":"2026-03-01T15:00:00-06:00"}]})"))
        .value();
}

Feedback sample_feedback() {
    return parse_feedback(J(R"({"propertyId":"P-1","tourId":"T-1","buyerId":"B-17","feedback":"Loved the kitchen",
        "rating":4,"interestLevel":"high","timestamp":"2026-03-01T15:05:00-06:00","address":"123 Main St, Austin TX"})"))
        .value();
}

const Expected kFindByEmail{"GET", "/crm/api/people?email=ann%40x.com&limit=100"};
const Expected kFindByTag{"GET", "/crm/api/people?tags=reanna%3Abuyer%3AB-17&limit=100"};
// The buyer's own contact is also looked for by phone (the national number), after email.
const Expected kFindByPhone{"GET", "/crm/api/people?phone=5125550100&limit=100"};
const Expected kUsers{"GET", "/crm/api/users?limit=100"};
const Expected kTypes{"GET", "/crm/api/appointment-types?limit=100"};
const char* kDesc1 = R"("Property P-1: 123 Main St, Austin TX\nTour T-1 (agent A-9)\nTime zone: America/Chicago\nNotes: Gate code 1234\n[reanna:visit:T-1/P-1]")";
const char* kDesc2 = R"("Property P-2: 9 Oak Ave, Austin TX\nTour T-1 (agent A-9)\nTime zone: America/Chicago\n[reanna:visit:T-1/P-2]")";

std::string appt(const char* desc, const char* title_addr, const char* start, const char* end, const char* extra = "") {
    return std::string(R"({"personId":"person-1","appointmentTypeId":"at-1","title":"Showing: )") + title_addr +
           R"(","location":")" + title_addr + R"(","description":)" + desc + R"(,"startsAt":")" + start +
           R"(","endsAt":")" + end + R"(","isAllDay":false,"userId":"u-7")" + extra + "}";
}

struct Golden : ::testing::Test {
    MiniCrm crm;
    ScriptedRollout stub{[this](const RecordedRequest& q) { return crm(q); }};
    RolloutClient client{HttpPool::create(fast_options({stub.url()})), config_for(stub.url())};

    SyncOutcome tour(const CrmAdapter& a, SyncTarget t, Tour tour = sample_tour()) {
        return run_sync(a.sync_tour(client, std::move(t), std::move(tour)));
    }
    SyncOutcome feedback(const CrmAdapter& a, SyncTarget t) {
        return run_sync(a.sync_feedback(client, std::move(t), sample_feedback()));
    }
};

TEST_F(Golden, HighLevelTour) {
    auto out = tour(*make_adapter("gohighlevel"), {"cred-ghl", {}, false});
    ASSERT_TRUE(out.ok()) << out.error->describe();
    const std::string a1 = appt(kDesc1, "123 Main St, Austin TX", "2026-03-01T14:00:00-06:00", "2026-03-01T14:45:00-06:00");
    const std::string a2 = appt(kDesc2, "9 Oak Ave, Austin TX", "2026-03-01T15:00:00-06:00", "2026-03-01T15:30:00-06:00");
    expect_requests(stub, {kFindByEmail, kFindByPhone, kFindByTag,
        {"POST", "/crm/api/people", R"({"firstName":"Ann","lastName":"Lee",
            "emails":[{"value":"ann@x.com","type":"personal","isPrimary":true}],
            "phones":[{"value":"+15125550100","type":"mobile","isPrimary":true}],
            "tags":["reanna","reanna:buyer:B-17"],"source":"REanna Router"})"},
        kUsers, kTypes, {"POST", "/crm/api/appointments", a1.c_str()}, {"POST", "/crm/api/appointments", a2.c_str()}},
        "cred-ghl");
    ASSERT_EQ(out.records.size(), 3u);
    EXPECT_EQ(out.records[0].kind, "person");
    EXPECT_EQ(out.records[0].local_id, "B-17");
    EXPECT_EQ(out.records[0].external_id, "person-1");
    EXPECT_EQ(out.records[0].action, Action::created);
    EXPECT_EQ(out.records[2].kind, "appointment");
    EXPECT_EQ(out.records[2].local_id, "T-1/P-2");
    EXPECT_EQ(out.records[2].external_id, "appo-2");
}

TEST_F(Golden, LoftyTourKeepsLargeIdsExact) {
    crm.person_id = json::value(std::uint64_t{9007199254740993ULL});  // > 2^53
    auto out = tour(*make_adapter("chime"), {"cred-lofty", {}, false});
    ASSERT_TRUE(out.ok()) << out.error->describe();
    auto reqs = stub.requests();
    ASSERT_EQ(reqs.size(), 8u);   // email, phone, tag look-ups first
    EXPECT_EQ(reqs[3].json, J(R"({"firstName":"Ann","lastName":"Lee",
            "emails":[{"value":"ann@x.com","type":"personal","isPrimary":true}],
            "phones":[{"value":"5125550100","type":"mobile","isPrimary":true}],
            "tags":["reanna","reanna:buyer:B-17"],"source":"REanna Router","contactTypes":["Buyer"]})"));
    auto a1 = reqs[6].json.as_object();
    EXPECT_EQ(a1.at("personId"), "9007199254740993");
    EXPECT_EQ(a1.at("startsAt"), "2026-03-01T14:00:00-06:00");
    EXPECT_EQ(a1.at("endsAt"), "2026-03-01T14:45:00-06:00");
    EXPECT_EQ(out.records[0].external_id, "9007199254740993");
    EXPECT_EQ(reqs[7].headers.at("x-rollout-credential-id"), "cred-lofty");
}

TEST_F(Golden, FollowUpBossTourUsesUtcAndInvitees) {
    auto out = tour(*make_adapter("fub"), {"cred-fub", {}, false});
    ASSERT_TRUE(out.ok()) << out.error->describe();
    const char* inv = R"(,"invitees":[{"personId":"person-1"},{"userId":"u-7"}])";
    const std::string a1 = appt(kDesc1, "123 Main St, Austin TX", "2026-03-01T20:00:00Z", "2026-03-01T20:45:00Z", inv);
    const std::string a2 = appt(kDesc2, "9 Oak Ave, Austin TX", "2026-03-01T21:00:00Z", "2026-03-01T21:30:00Z", inv);
    expect_requests(stub, {kFindByEmail, kFindByPhone, kFindByTag,
        {"POST", "/crm/api/people", R"({"firstName":"Ann","lastName":"Lee",
            "emails":[{"value":"ann@x.com","type":"personal","isPrimary":true}],
            "phones":[{"value":"(512) 555-0100","type":"mobile","isPrimary":true}],
            "tags":["reanna","reanna:buyer:B-17"],"source":"REanna Router"})"},
        kUsers, kTypes, {"POST", "/crm/api/appointments", a1.c_str()}, {"POST", "/crm/api/appointments", a2.c_str()}},
        "cred-fub");
}

TEST_F(Golden, GenericWithoutAppointmentsUsesTasks) {
    AdapterOptions o;
    o.appointments_supported = false;
    auto adapter = make_adapter("kvcore", o);
    EXPECT_EQ(adapter->crm_type(), "boldtrail");
    auto out = tour(*adapter, {"cred-bt", {}, false});
    ASSERT_TRUE(out.ok()) << out.error->describe();
    auto reqs = stub.requests();
    ASSERT_EQ(reqs.size(), 7u);
    EXPECT_EQ(reqs[5].target, "/crm/api/tasks");
    EXPECT_EQ(reqs[5].json, J(R"({"personId":"person-1","name":"Showing: 123 Main St, Austin TX [reanna:visit:T-1/P-1]",
        "type":"Appointment","dueDateTime":"2026-03-01T20:00:00Z","isCompleted":false,"assignedUserId":"u-7"})"));
    EXPECT_EQ(out.records[1].kind, "task");
    EXPECT_EQ(out.records[1].external_id, "task-1");
}

TEST_F(Golden, RepeatedSyncUpdatesKnownRecords) {
    KnownIds known{{"person:B-17", "person-1"}, {"appointment:T-1/P-1", "appo-1"}, {"appointment:T-1/P-2", "appo-2"}};
    auto out = tour(*make_adapter("highlevel"), {"cred-ghl", known, false});
    ASSERT_TRUE(out.ok()) << out.error->describe();
    auto reqs = stub.requests();
    ASSERT_EQ(reqs.size(), 5u);
    EXPECT_EQ(reqs[0].method + " " + reqs[0].target, "PUT /crm/api/people/person-1?mergeTags=true");
    EXPECT_EQ(reqs[3].method + " " + reqs[3].target, "PUT /crm/api/appointments/appo-1");
    EXPECT_EQ(reqs[4].method + " " + reqs[4].target, "PUT /crm/api/appointments/appo-2");
    for (const auto& r : out.records) EXPECT_EQ(r.action, Action::updated);
}

TEST_F(Golden, UncertainRetryFindsRecordsByMarker) {
    crm.people = json::array{json::object{{"id", "person-1"}, {"emails", json::array{json::object{{"value", "ANN@x.com"}}}},
                                          {"tags", json::array{"reanna", "reanna:buyer:B-17"}}}};
    crm.appointments = json::array{json::object{{"id", "appo-9"}, {"personId", "person-1"},
                                                {"description", "...\n[reanna:visit:T-1/P-1]"}}};
    auto out = tour(*make_adapter("highlevel"), {"cred-ghl", {}, true});
    ASSERT_TRUE(out.ok()) << out.error->describe();
    auto reqs = stub.requests();
    std::vector<std::string> seen;
    for (const auto& r : reqs) seen.push_back(r.method + " " + r.target);
    EXPECT_EQ(seen, (std::vector<std::string>{
        "GET /crm/api/people?email=ann%40x.com&limit=100", "GET /crm/api/users?limit=100",
        "GET /crm/api/appointment-types?limit=100", "GET /crm/api/appointments?personId=person-1&limit=100",
        "PUT /crm/api/appointments/appo-9", "GET /crm/api/appointments?personId=person-1&limit=100",
        "POST /crm/api/appointments"}));
    EXPECT_EQ(out.records[0].action, Action::found);
    EXPECT_EQ(out.records[1].action, Action::updated);
    EXPECT_EQ(out.records[2].action, Action::created);
}

TEST_F(Golden, HighLevelFeedbackNote) {
    auto out = feedback(*make_adapter("highlevel"), {"cred-ghl", {{"person:B-17", "person-1"}}, false});
    ASSERT_TRUE(out.ok()) << out.error->describe();
    expect_requests(stub, {{"POST", "/crm/api/notes", R"({"personId":"person-1",
        "body":"Showing feedback: 123 Main St, Austin TX\nBuyer feedback on property P-1 (123 Main St, Austin TX) from tour T-1 at 2026-03-01T15:05:00-06:00:\nLoved the kitchen\nRating: 4/5\nInterest level: high\n[reanna:feedback:T-1/P-1/B-17]",
        "isHtml":false})"}}, "cred-ghl");
    ASSERT_EQ(out.records.size(), 1u);
    EXPECT_EQ(out.records[0].kind, "note");
    EXPECT_EQ(out.records[0].local_id, "T-1/P-1/B-17");
    EXPECT_EQ(out.records[0].external_id, "note-1");
}

TEST_F(Golden, FollowUpBossFeedbackFindsPersonByTag) {
    crm.people = json::array{json::object{{"id", "person-1"}, {"tags", json::array{"reanna:buyer:B-17"}}}};
    auto out = feedback(*make_adapter("follow-up-boss"), {"cred-fub", {}, false});
    ASSERT_TRUE(out.ok()) << out.error->describe();
    expect_requests(stub, {kFindByTag, {"POST", "/crm/api/notes", R"({"personId":"person-1",
        "subject":"Showing feedback: 123 Main St, Austin TX",
        "body":"Buyer feedback on property P-1 (123 Main St, Austin TX) from tour T-1 at 2026-03-01T15:05:00-06:00:\nLoved the kitchen\nRating: 4/5\nInterest level: high\n[reanna:feedback:T-1/P-1/B-17]",
        "isHtml":false})"}}, "cred-fub");
    EXPECT_EQ(out.records[0].action, Action::found);
    EXPECT_EQ(out.records[1].action, Action::created);
}

TEST_F(Golden, KnownNoteIsUpdated) {
    auto out = feedback(*make_adapter("lofty"),
                        {"cred-l", {{"person:B-17", "person-1"}, {"note:T-1/P-1/B-17", "note-5"}}, false});
    ASSERT_TRUE(out.ok()) << out.error->describe();
    auto reqs = stub.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].method + " " + reqs[0].target, "PUT /crm/api/notes/note-5");
    EXPECT_EQ(out.records[0].action, Action::updated);
}

TEST(GoldenErrors, FailureKeepsRecordsDoneSoFar) {
    int appts = 0;
    ScriptedRollout stub([&](const RecordedRequest& q) {
        if (q.method == "GET") return MiniCrm::list(q.target.find("appointment-types") != std::string::npos
                                                        ? "appointmentTypes" : "people",
                                                    q.target.find("appointment-types") != std::string::npos
                                                        ? json::array{json::object{{"id", "at-1"}, {"name", "showing"}}}
                                                        : json::array{});
        if (q.target == "/crm/api/people") return ScriptedReply{201, R"({"id":"person-1"})"};
        if (++appts == 2) return ScriptedReply{409, R"({"errorMessage":"Data for this credential is not ready yet. Please try again."})"};
        return ScriptedReply{201, R"({"id":"appo-1"})"};
    });
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config_for(stub.url()));
    Tour t = sample_tour();
    t.agent_email.reset();
    auto out = run_sync(make_adapter("highlevel")->sync_tour(client, {"c", {}, false}, t));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error->code, ErrorKind::not_ready);
    EXPECT_TRUE(rollout::retryable(*out.error));
    ASSERT_EQ(out.records.size(), 2u);  // the person and the first appointment: the ledger must keep them
    EXPECT_EQ(out.records[1].external_id, "appo-1");
}

// crm_state is what a webhook about our own write will be compared with (rollout/crm_watch.hpp): it must be the
// watched state of the record as the CRM stored it, so the echo reads back as no change.
struct GoldenState : ::testing::Test {
    std::unique_ptr<fake::FakeRollout> rollout = emulated_rollout();
    std::string cred = std::string(rollout->add_credential("highlevel", "team-1").at("id").as_string());
    RolloutClient client{HttpPool::create(fast_options({rollout->url()})), config_for(rollout->url())};

    json::object stored(const SyncRecord& r) const {
        const std::string collection = r.kind == "person" ? "people" : r.kind + "s";
        for (auto& record : rollout->records(cred, collection))
            if (id_of(record.at("id")) == r.external_id) return record;
        ADD_FAILURE() << "the fake stores no " << r.kind << " " << r.external_id;
        return {};
    }
    void expect_stored_states(const SyncOutcome& out) const {
        for (const auto& r : out.records) {
            SCOPED_TRACE(r.kind + " " + r.local_id);
            const json::object record = stored(r);
            EXPECT_EQ(r.crm_state, watched_state(r.kind, record));
            EXPECT_TRUE(observe_change(r.kind, r.crm_state, &record).empty());
        }
    }
};

TEST_F(GoldenState, SyncedTourRecordsCarryTheStoredRecordsWatchedState) {
    auto adapter = make_adapter("highlevel");
    auto out = run_sync(adapter->sync_tour(client, {cred, {}, false}, sample_tour()));
    ASSERT_TRUE(out.ok()) << out.error->describe();
    ASSERT_EQ(out.records.size(), 3u);
    EXPECT_EQ(out.records[0].action, Action::created);
    EXPECT_EQ(out.records[0].crm_state,
              R"({"firstName":"Ann","lastName":"Lee","emails":["ann@x.com"],"phones":["15125550100"]})");
    EXPECT_EQ(out.records[1].crm_state,
              R"({"startsAt":"2026-03-01T14:00:00-06:00","endsAt":"2026-03-01T14:45:00-06:00"})");
    expect_stored_states(out);

    // Sent again with the ledger's ids and a moved visit: the updates carry the new stored state.
    KnownIds known;
    for (const auto& r : out.records) known[known_key(r.kind, r.local_id)] = r.external_id;
    Tour moved = sample_tour();
    moved.properties[0].visit_time = *parse_iso8601("2026-03-02T10:00:00-06:00");
    auto again = run_sync(adapter->sync_tour(client, {cred, known, false}, moved));
    ASSERT_TRUE(again.ok()) << again.error->describe();
    ASSERT_EQ(again.records.size(), 3u);
    for (const auto& r : again.records) EXPECT_EQ(r.action, Action::updated);
    EXPECT_NE(again.records[1].crm_state, out.records[1].crm_state);
    expect_stored_states(again);
    // An agent's own edit in the CRM afterwards does not compare equal.
    auto edited = run_sync(client.update_appointment(cred, again.records[2].external_id,
                                                     json::object{{"startsAt", "2026-03-04T09:00:00Z"}}));
    ASSERT_TRUE(edited) << edited.error().describe();
    const json::object record = stored(again.records[2]);
    auto changes = observe_change("appointment", again.records[2].crm_state, &record);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].kind, "showing_rescheduled");
}

TEST_F(GoldenState, FoundAndTaggedContactsCarryTheirState) {
    // The agent's own contact for the buyer: found by email, tagged with our marker (the reply is the person).
    rollout->put_record(cred, "people", json::object{{"firstName", "Annie"}, {"lastName", "Lee"},
                                                     {"emails", json::array{json::object{{"value", "ANN@x.com"}}}},
                                                     {"tags", json::array{}}});
    auto adapter = make_adapter("highlevel");
    auto out = run_sync(adapter->sync_tour(client, {cred, {}, false}, sample_tour()));
    ASSERT_TRUE(out.ok()) << out.error->describe();
    ASSERT_EQ(out.records.size(), 3u);
    EXPECT_EQ(out.records[0].action, Action::found);
    EXPECT_EQ(out.records[0].crm_state, R"({"firstName":"Annie","lastName":"Lee","emails":["ann@x.com"]})");
    expect_stored_states(out);

    // Feedback for the same buyer finds that person by its marker, already tagged: the found record's state.
    auto fb = run_sync(adapter->sync_feedback(client, {cred, {}, false}, sample_feedback()));
    ASSERT_TRUE(fb.ok()) << fb.error->describe();
    ASSERT_EQ(fb.records.size(), 2u);
    EXPECT_EQ(fb.records[0].action, Action::found);
    EXPECT_EQ(fb.records[1].kind, "note");
    expect_stored_states(fb);
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
