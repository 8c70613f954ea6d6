// RolloutClient::get_crm_record against the fake Rollout over a loopback socket: a record read by id, a gone
// record as nullopt, an id that stays one percent-encoded path segment (the fake's request log shows what was
// sent), and collections or ids refused before any request; odd replies from a scripted Rollout.
#include "rollout/client.hpp"
#include "test_support.hpp"

namespace rollout_mcp::rollout::test {
namespace {
namespace json = boost::json;

struct CrmRecordRead : ::testing::Test {
    std::unique_ptr<fake::FakeRollout> rollout = emulated_rollout();
    std::string cred = std::string(rollout->add_credential("highlevel", "team-1").at("id").as_string());
    RolloutClient client{HttpPool::create(fast_options({rollout->url()})), config_for(rollout->url())};

    Result<std::optional<Record>> get(std::string_view collection, std::string id) {
        return run_sync(client.get_crm_record(cred, collection, std::move(id)));
    }
    std::vector<std::string> sent() const {
        std::vector<std::string> out;
        for (const auto& r : rollout->requests()) out.push_back(r.method + " " + r.path + (r.query.empty() ? "" : "?" + r.query));
        return out;
    }
};

TEST_F(CrmRecordRead, FindsTheRecordAsTheCrmHasIt) {
    const auto person = rollout->put_record(cred, "people", json::object{{"firstName", "Ann"}, {"lastName", "Lee"}});
    const auto appointment = rollout->put_record(cred, "appointments",
                                                 json::object{{"personId", person.at("id")}, {"title", "Showing"},
                                                              {"startsAt", "2026-03-01T14:00:00-06:00"}});
    const std::string id(appointment.at("id").as_string());
    auto r = get("appointments", id);
    ASSERT_TRUE(r) << r.error().describe();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->id, id);
    EXPECT_EQ((*r)->data, rollout->records(cred, "appointments").back());
    auto p = get("people", std::string(person.at("id").as_string()));
    ASSERT_TRUE(p && p->has_value());
    EXPECT_EQ((*p)->data.at("firstName"), "Ann");
    EXPECT_EQ(sent(), (std::vector<std::string>{"GET /crm/api/appointments/" + id,
                                                 "GET /crm/api/people/" + std::string(person.at("id").as_string())}));
    EXPECT_EQ(rollout->requests().at(0).credential_id, cred);
}

TEST_F(CrmRecordRead, GoneRecordIsNullopt) {
    const auto note = rollout->put_record(cred, "notes", json::object{{"body", "hi"}});
    const std::string id(note.at("id").as_string());
    ASSERT_TRUE(rollout->remove_record(cred, "notes", id));
    for (const std::string& gone : {id, std::string("note-does-not-exist")}) {
        auto r = get("notes", gone);
        ASSERT_TRUE(r) << r.error().describe();
        EXPECT_FALSE(r->has_value());
    }
    auto t = get("tasks", "task-1");
    ASSERT_TRUE(t) << t.error().describe();
    EXPECT_FALSE(t->has_value());
    EXPECT_EQ(sent().size(), 3u);
}

TEST_F(CrmRecordRead, CraftedIdsStayOneEncodedSegment) {
    rollout->put_record(cred, "people", json::object{{"firstName", "Ann"}, {"lastName", "Lee"}});
    for (const char* crafted : {"../webhooks", "a?b=c", "a b/\xC3\xA9#x", "%2e%2e", "people-1&limit=1"}) {
        auto r = get("people", crafted);
        ASSERT_TRUE(r) << crafted << ": " << r.error().describe();
        EXPECT_FALSE(r->has_value()) << crafted;
    }
    EXPECT_EQ(sent(), (std::vector<std::string>{
        "GET /crm/api/people/..%2Fwebhooks", "GET /crm/api/people/a%3Fb%3Dc", "GET /crm/api/people/a%20b%2F%C3%A9%23x",
        "GET /crm/api/people/%252e%252e", "GET /crm/api/people/people-1%26limit%3D1"}));
    EXPECT_TRUE(rollout->webhooks(cred).empty());
}

TEST_F(CrmRecordRead, UnknownCollectionsAndImplausibleIdsMakeNoRequest) {
    for (const char* collection : {"webhooks", "People", "", "people/", "appointment-types", "users", "person",
                                   "../people", "notes?x=1"}) {
        auto r = get(collection, "person-1");
        ASSERT_FALSE(r) << collection;
        EXPECT_EQ(r.error().code, std::errc::invalid_argument) << collection;
    }
    for (const std::string& id : {std::string(), std::string(201, 'x'), std::string("a\nb"), std::string("a\x7f"),
                                  std::string("\t"), std::string("id\0x", 4), std::string(2000, '7')}) {
        auto r = get("people", id);
        ASSERT_FALSE(r) << id.size();
        EXPECT_EQ(r.error().code, std::errc::invalid_argument);
        if (!id.empty()) {
            EXPECT_EQ(r.error().message.find(id), std::string::npos);   // never echoed
        }
    }
    EXPECT_TRUE(sent().empty());
    // The limit counts characters: 200 of them pass, also when each is two bytes.
    std::string wide;
    for (int i = 0; i < 200; ++i) wide += "\xC3\xA9";
    for (const std::string& id : {std::string(200, 'x'), wide}) {
        auto r = get("people", id);
        ASSERT_TRUE(r) << r.error().describe();
        EXPECT_FALSE(r->has_value());
    }
    EXPECT_EQ(sent().size(), 2u);
}

TEST_F(CrmRecordRead, OtherFailuresComeBackAsTheClientsErrors) {
    auto r = run_sync(client.get_crm_record("no-such-credential", "people", "person-1"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorKind::auth);
    EXPECT_EQ(r.error().status, 403u);
}

TEST(CrmRecordReplies, OddRepliesAreErrorsOrKeepTheIdAskedFor) {
    ScriptedRollout stub([](const RecordedRequest& q) {
        if (q.path.ends_with("/array")) return ScriptedReply{200, "[]"};
        if (q.path.ends_with("/empty")) return ScriptedReply{200, ""};
        if (q.path.ends_with("/busy")) return ScriptedReply{503, R"({"errorMessage":"try later"})"};
        if (q.path.ends_with("/not-ready")) return ScriptedReply{409, R"({"errorMessage":"not ready"})"};
        return ScriptedReply{200, R"({"firstName":"Ann"})"};   // no id in the body
    });
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config_for(stub.url()));
    for (const char* id : {"array", "empty"}) {
        auto r = run_sync(client.get_crm_record("c", "people", id));
        ASSERT_FALSE(r) << id;
        EXPECT_EQ(r.error().code, ErrorKind::permanent) << id;
    }
    auto busy = run_sync(client.get_crm_record("c", "tasks", "busy"));
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, ErrorKind::transient);
    auto not_ready = run_sync(client.get_crm_record("c", "tasks", "not-ready"));
    ASSERT_FALSE(not_ready);
    EXPECT_EQ(not_ready.error().code, ErrorKind::not_ready);
    auto idless = run_sync(client.get_crm_record("c", "people", "person-7"));
    ASSERT_TRUE(idless) << idless.error().describe();
    ASSERT_TRUE(idless->has_value());
    EXPECT_EQ((*idless)->id, "person-7");
    EXPECT_EQ((*idless)->data.at("firstName"), "Ann");
    auto no_credential = run_sync(client.get_crm_record("", "people", "person-7"));
    ASSERT_FALSE(no_credential);
    EXPECT_EQ(no_credential.error().code, ErrorKind::validation);
    EXPECT_EQ(stub.requests().size(), 5u);
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
