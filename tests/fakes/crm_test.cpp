// Tests of the fake CRM host (/crm/api): credential header checks, 409 not-ready, CRUD per entity kind with
// required-field validation, 404s, paging with _metadata, filters, and separation between credentials.
#include "fake_test.hpp"

#include <thread>

namespace rollout_mcp::fake::test {
namespace json = boost::json;
using namespace std::chrono_literals;

TEST_F(FakeTest, CredentialHeaderIsRequiredAndMustBelongToTheSub) {
    auto mine = credential("highlevel");
    auto theirs = credential("highlevel", "team-2");
    auto r = api("GET", "/crm/api/people");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json().at("errorMessage").as_string(), "X-Rollout-Credential-Id header is required");
    EXPECT_EQ(crm("GET", "/people", "unknown").status, 403);
    EXPECT_EQ(crm("GET", "/people", theirs).status, 403);
    EXPECT_EQ(crm("GET", "/people", mine).status, 200);
    CallOptions no_jwt;
    no_jwt.headers.emplace_back("X-Rollout-Credential-Id", mine);
    EXPECT_EQ(call(fake->port(), "GET", "/crm/api/people", {}, no_jwt).status, 401);
}

TEST_F(FakeTest, NewCredentialIsNotReadyUntilItsTimeOrTheReadySwitch) {
    const std::string id(fake->add_credential("lofty", "team-1", "L", 300ms).at("id").as_string());
    auto r = crm("GET", "/people?limit=1", id);
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(r.json().at("errorMessage").as_string(), "Data for this credential is not ready yet. Please try again.");
    std::this_thread::sleep_for(350ms);
    EXPECT_EQ(crm("GET", "/people?limit=1", id).status, 200);

    auto c = control("POST", "/credentials", R"({"appKey":"lofty","sub":"team-1","notReadyMs":600000})");
    const std::string slow(c.json().at("id").as_string());
    EXPECT_FALSE(c.json().at("ready").as_bool());
    EXPECT_EQ(crm("GET", "/people", slow).status, 409);
    EXPECT_EQ(control("POST", "/credentials/" + slow + "/ready").status, 200);
    EXPECT_EQ(crm("GET", "/people", slow).status, 200);
}

TEST_F(FakeTest, PeopleCrud) {
    auto cred = credential("highlevel");
    auto created = crm("POST", "/people", cred,
                       R"({"firstName":"Ann","lastName":"Buyer","emails":[{"value":"ann@example.com","type":"home"}],
                           "phones":[{"value":"+1 (555) 010-2000"}],"tags":["tour"]})");
    ASSERT_EQ(created.status, 201) << created.body;
    auto p = created.json().as_object();
    const std::string id(p["id"].as_string());
    EXPECT_EQ(p["name"].as_string(), "Ann Buyer");
    for (auto f : {"created", "updated", "rolloutUpdated"}) EXPECT_TRUE(p[f].is_string()) << f;
    EXPECT_TRUE(p["originalIds"].is_object());

    EXPECT_EQ(crm("GET", "/people/" + id, cred).json(), created.json());
    auto put = crm("PUT", "/people/" + id, cred, R"({"lastName":"Seller","tags":["vip"]})");
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(put.json().at("name").as_string(), "Ann Seller");
    EXPECT_EQ(put.json().at("tags"), json::parse(R"(["vip"])"));
    auto merged = crm("PUT", "/people/" + id + "?mergeTags=true", cred, R"({"tags":["hot"]})");
    EXPECT_EQ(merged.json().at("tags"), json::parse(R"(["vip","hot"])"));
    EXPECT_EQ(crm("POST", "/people/" + id + "/tags/apply", cred, R"({"tags":["a"]})").json().at("tags"),
              json::parse(R"(["vip","hot","a"])"));
    EXPECT_EQ(crm("POST", "/people/" + id + "/tags/delete", cred, R"({"tags":["vip"]})").json().at("tags"),
              json::parse(R"(["hot","a"])"));
    EXPECT_EQ(crm("POST", "/people/" + id + "/tags/apply", cred, R"({})").status, 400);

    auto del = crm("DELETE", "/people/" + id, cred);
    EXPECT_EQ(del.status, 200);
    EXPECT_EQ(del.body, "[]");
    auto gone = crm("GET", "/people/" + id, cred);
    EXPECT_EQ(gone.status, 404);
    EXPECT_TRUE(gone.json().at("errorMessage").is_string());
    EXPECT_EQ(crm("PUT", "/people/nope", cred, "{}").status, 404);
    EXPECT_EQ(crm("DELETE", "/people/nope", cred).status, 404);
    EXPECT_EQ(crm("GET", "/widgets", cred).status, 404);
}

TEST_F(FakeTest, RequiredFieldsAreValidated) {
    auto cred = credential("highlevel");
    auto expect_400 = [&](const std::string& kind, const std::string& body, const std::string& message) {
        auto r = crm("POST", kind, cred, body);
        EXPECT_EQ(r.status, 400) << kind << " " << body;
        EXPECT_EQ(r.json().at("errorMessage").as_string(), message) << kind << " " << body;
    };
    expect_400("/people", R"({"lastName":"B"})", "firstName is required");
    expect_400("/people", R"({"firstName":"A","lastName":""})", "lastName is required");
    expect_400("/people", R"({"firstName":"A","lastName":"B","emails":[{"type":"home"}]})", "emails[].value is required");
    expect_400("/people", R"({"firstName":"A","lastName":"B","emails":"a@b.c"})", "emails must be an array");
    expect_400("/people", "not json", "Request body must be a JSON object");
    expect_400("/notes", R"({"body":"x"})", "personId is required");
    expect_400("/notes", R"({"personId":"person_999"})", "personId person_999 does not exist");
    expect_400("/tasks", R"({"name":"x"})", "personId is required");
    const auto pid = person(cred);
    expect_400("/tasks", R"({"personId":")" + pid + R"(","dueDateTime":"tomorrow"})",
               "dueDateTime must be an ISO 8601 date-time or epoch milliseconds");
    expect_400("/appointments", R"({"personId":")" + pid + R"(","title":"T","location":"L"})", "appointmentTypeId is required");
    expect_400("/appointments", R"({"personId":")" + pid + R"(","appointmentTypeId":"x","title":"T","location":"L"})",
               "appointmentTypeId x does not exist");
    expect_400("/appointment-types", R"({"name":"Tour"})", "orderWeight is required");
    expect_400("/appointment-types", R"({"name":"Tour","orderWeight":"1"})", "orderWeight must be a number");
    expect_400("/users", R"({"name":"U"})", "email is required");
    EXPECT_EQ(crm("PUT", "/people/" + pid, cred, R"({"firstName":null})").status, 400);
    EXPECT_EQ(fake->records(cred, "notes").size(), 0u);
    EXPECT_EQ(fake->records(cred, "people").size(), 1u);
}

TEST_F(FakeTest, EveryKindCanBeCreatedReadAndListed) {
    auto cred = credential("lofty");
    const auto pid = person(cred);
    auto types = crm("GET", "/appointment-types", cred).json();
    ASSERT_EQ(types.at("_metadata").at("total").as_int64(), 1);   // seeded "Showing"
    const std::string type_id(types.at("appointment-types").at(0).at("id").as_string());
    const std::map<std::string, std::string> bodies = {
        {"notes", R"({"personId":")" + pid + R"(","subject":"Feedback","body":"Loved the kitchen","isHtml":false})"},
        {"events", R"({"personId":")" + pid + R"(","type":"Visited Open House","occurredAt":"2026-11-24T10:00:00-05:00"})"},
        {"tasks", R"({"personId":")" + pid + R"(","name":"Call back","dueDateTime":"2026-11-25T09:00:00Z"})"},
        {"appointments", R"({"personId":")" + pid + R"(","appointmentTypeId":")" + type_id +
                             R"(","title":"Showing: 1 Main St","location":"1 Main St","startsAt":"2026-11-24T10:00:00-05:00",
                             "endsAt":1795532400000})"},
        {"appointment-types", R"({"name":"Second showing","orderWeight":2})"},
        {"appointment-outcomes", R"({"name":"Offer"})"},
        {"users", R"({"email":"agent2@example.com","firstName":"Second"})"},
    };
    for (const auto& [kind, body] : bodies) {
        auto r = crm("POST", "/" + kind, cred, body);
        ASSERT_EQ(r.status, 201) << kind << ": " << r.body;
        const std::string id(r.json().at("id").as_string());
        EXPECT_EQ(crm("GET", "/" + kind + "/" + id, cred).json(), r.json()) << kind;
        auto list = crm("GET", "/" + kind, cred).json();
        EXPECT_EQ(list.at("_metadata").at("collection").as_string(), kind);
        EXPECT_EQ(list.at(kind).as_array().back().at("id").as_string(), id) << kind;
    }
    auto notes = crm("GET", "/notes?personId=" + pid, cred).json();
    EXPECT_EQ(notes.at("_metadata").at("total").as_int64(), 1);
    EXPECT_EQ(crm("GET", "/notes?personId=person_0", cred).json().at("_metadata").at("total").as_int64(), 0);
    auto counts = fake->state().at("crm").at(cred).at("counts").as_object();
    EXPECT_EQ(counts.at("people").as_int64(), 1);
    EXPECT_EQ(counts.at("appointments").as_int64(), 1);
    EXPECT_EQ(counts.at("appointment-types").as_int64(), 2);
    EXPECT_EQ(counts.at("users").as_int64(), 2);
}

TEST_F(FakeTest, PagingFollowsMetadata) {
    auto cred = credential("highlevel");
    for (int i = 0; i < 25; ++i) person(cred, "P" + std::to_string(i), "p" + std::to_string(i) + "@example.com");
    auto first = crm("GET", "/people", cred).json();
    auto md = first.at("_metadata").as_object();
    EXPECT_EQ(md["limit"].as_int64(), 10);   // default page
    EXPECT_EQ(md["offset"].as_int64(), 0);
    EXPECT_EQ(md["total"].as_int64(), 25);
    EXPECT_EQ(first.at("people").as_array().size(), 10u);
    ASSERT_TRUE(md["next"].is_string());
    EXPECT_NE(md["nextLink"].as_string().find("/crm/api/people?next="), json::string::npos);

    std::vector<std::string> names;
    std::string target = "/people?limit=7";
    for (int pages = 0; pages < 10; ++pages) {
        auto page = crm("GET", target, cred).json();
        for (const auto& p : page.at("people").as_array()) names.emplace_back(p.at("firstName").as_string());
        auto next = page.at("_metadata").at("next");
        if (next.is_null()) break;
        target = "/people?limit=7&next=" + std::string(next.as_string());
    }
    ASSERT_EQ(names.size(), 25u);
    EXPECT_EQ(names.front(), "P0");
    EXPECT_EQ(names.back(), "P24");

    auto tail = crm("GET", "/people?limit=10&offset=20", cred).json();
    EXPECT_EQ(tail.at("people").as_array().size(), 5u);
    EXPECT_TRUE(tail.at("_metadata").at("next").is_null());
    EXPECT_EQ(crm("GET", "/people?limit=1000", cred).json().at("_metadata").at("limit").as_int64(), 100);
    EXPECT_EQ(crm("GET", "/people?limit=0", cred).status, 400);
    EXPECT_EQ(crm("GET", "/people?limit=abc", cred).status, 400);
    EXPECT_EQ(crm("GET", "/people?offset=-1", cred).status, 400);
    EXPECT_EQ(crm("GET", "/people?next=garbage", cred).status, 400);

    auto by_email = crm("GET", "/people?email=P7%40Example.com", cred).json();
    ASSERT_EQ(by_email.at("_metadata").at("total").as_int64(), 1);
    EXPECT_EQ(by_email.at("people").at(0).at("firstName").as_string(), "P7");
    auto ids = crm("GET", "/people?ids=" + std::string(by_email.at("people").at(0).at("id").as_string()), cred).json();
    EXPECT_EQ(ids.at("_metadata").at("total").as_int64(), 1);
}

TEST_F(FakeTest, EachCredentialHasItsOwnRecords) {
    auto ghl = credential("highlevel");
    auto lofty = credential("lofty");
    const auto ghl_person = person(ghl, "Ann");
    person(lofty, "Ann");
    person(lofty, "Bob", "bob@example.com");
    EXPECT_EQ(crm("GET", "/people", ghl).json().at("_metadata").at("total").as_int64(), 1);
    EXPECT_EQ(crm("GET", "/people", lofty).json().at("_metadata").at("total").as_int64(), 2);
    EXPECT_EQ(crm("GET", "/people/" + ghl_person, lofty).status, 404);
    // A note in Lofty cannot point at a GoHighLevel person.
    EXPECT_EQ(crm("POST", "/notes", lofty, R"({"personId":")" + ghl_person + R"("})").status, 400);
    EXPECT_EQ(crm("POST", "/notes", ghl, R"({"personId":")" + ghl_person + R"(","body":"hi"})").status, 201);
    EXPECT_EQ(fake->records(ghl, "notes").size(), 1u);
    EXPECT_EQ(fake->records(lofty, "notes").size(), 0u);
    auto state = fake->state().at("crm");
    EXPECT_EQ(state.at(ghl).at("counts").at("notes").as_int64(), 1);
    EXPECT_EQ(state.at(lofty).at("people").as_array().size(), 2u);
    EXPECT_EQ(state.at(lofty).at("appKey").as_string(), "lofty");
}

}  // namespace rollout_mcp::fake::test
