// Tests of the fake Rollout's platform host (/platform/api), JWT checks, the v2 automation host and the
// /_fake/ control API, over real loopback sockets.
#include "fake_jwt.hpp"
#include "fake_test.hpp"

namespace rollout_mcp::fake::test {
namespace json = boost::json;
using namespace std::chrono_literals;

TEST_F(FakeTest, ConnectorsIsAnObjectKeyedByAppKey) {
    auto r = api("GET", "/platform/api/connectors");
    ASSERT_EQ(r.status, 200) << r.body;
    auto c = r.json().as_object();
    for (auto key : {"highlevel", "lofty", "follow-up-boss", "boldtrail", "hubspot", "salesforce"}) {
        ASSERT_TRUE(c.contains(key)) << key;
        EXPECT_TRUE(c[key].as_object()["name"].is_string());
        EXPECT_TRUE(c[key].as_object()["entities"].as_object().contains("crm")) << key;
        EXPECT_TRUE(c[key].as_object()["authByPlan"].is_object());
    }
    EXPECT_EQ(c["highlevel"].at("name").as_string(), "GoHighLevel");
    EXPECT_TRUE(c["highlevel"].at("entities").at("crm").at("appointments").at("create").as_bool());
    EXPECT_FALSE(c["dotloop"].at("entities").as_object().contains("crm"));   // not a CRM: clients filter it out
}

TEST_F(FakeTest, CredentialsListIsABareArrayOfTheTokensSub) {
    auto ghl = credential("highlevel");
    auto lofty = credential("lofty");
    credential("highlevel", "team-2");
    auto r = api("GET", "/platform/api/credentials");
    ASSERT_EQ(r.status, 200);
    auto list = r.json().as_array();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].at("id").as_string(), ghl);
    EXPECT_EQ(list[0].at("appKey").as_string(), "highlevel");
    EXPECT_TRUE(list[0].at("createdAt").is_string());
    EXPECT_TRUE(list[0].at("label").is_string());
    EXPECT_EQ(list[1].at("id").as_string(), lofty);

    auto filtered = api("GET", "/platform/api/credentials?appKey=lofty").json().as_array();
    ASSERT_EQ(filtered.size(), 1u);
    EXPECT_EQ(filtered[0].at("id").as_string(), lofty);
    EXPECT_TRUE(api("GET", "/platform/api/credentials?appKey=hubspot").json().as_array().empty());
    auto profile = api("GET", "/platform/api/credentials?appKey=lofty&includeProfile=true").json().as_array();
    EXPECT_TRUE(profile[0].at("profile").at("accountName").is_string());
}

TEST_F(FakeTest, CreateAndDeleteCredential) {
    auto r = api("POST", "/platform/api/credentials", R"({"appKey":"follow-up-boss","userInputs":{"apiKey":"k","label":"FUB main"}})");
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string id(r.json().at("id").as_string());
    EXPECT_EQ(r.json().at("label").as_string(), "FUB main");
    EXPECT_EQ(api("GET", "/platform/api/credentials?appKey=follow-up-boss").json().as_array().size(), 1u);

    EXPECT_EQ(api("POST", "/platform/api/credentials", R"({"userInputs":{}})").status, 400);
    EXPECT_EQ(api("POST", "/platform/api/credentials", R"({"appKey":"nope"})").status, 400);
    EXPECT_EQ(api("POST", "/platform/api/credentials", "[1]").status, 400);

    EXPECT_EQ(api("DELETE", "/platform/api/credentials?credentialId=missing").status, 404);
    EXPECT_EQ(api("DELETE", "/platform/api/credentials").status, 400);
    EXPECT_EQ(api("DELETE", "/platform/api/credentials?credentialId=" + id).status, 200);
    EXPECT_TRUE(api("GET", "/platform/api/credentials").json().as_array().empty());
    EXPECT_EQ(crm("GET", "/people", id).status, 403);   // gone
}

TEST_F(FakeTest, JwtIsVerified) {
    auto with = [&](const std::string& auth) {
        CallOptions o;
        if (!auth.empty()) o.headers.emplace_back("Authorization", auth);
        return call(fake->port(), "GET", "/platform/api/credentials", {}, o);
    };
    EXPECT_EQ(with("").status, 401);
    EXPECT_EQ(with("Basic abc").status, 401);
    EXPECT_EQ(with("Bearer not-a-jwt").status, 401);
    auto wrong_key = with("Bearer " + mint_hs512_jwt("other-secret", "team-1", 3600s));
    EXPECT_EQ(wrong_key.status, 401);
    EXPECT_NE(wrong_key.json().at("errorMessage").as_string().find("signature"), json::string::npos);
    auto expired = with("Bearer " + mint_hs512_jwt(kSecret, "team-1", -10s));
    EXPECT_EQ(expired.status, 401);
    EXPECT_NE(expired.json().at("errorMessage").as_string().find("expired"), json::string::npos);
    // alg "none" with the signature stripped is refused.
    const auto good = mint_hs512_jwt(kSecret, "team-1", 3600s);
    const auto payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
    EXPECT_EQ(with("Bearer " + base64url_encode(R"({"alg":"none"})") + "." + payload + ".").status, 401);
    // A tampered payload (another sub) breaks the signature.
    const auto other = base64url_encode(R"({"sub":"team-2","exp":9999999999})");
    EXPECT_EQ(with("Bearer " + good.substr(0, good.find('.') + 1) + other + good.substr(good.rfind('.'))).status, 401);
    EXPECT_EQ(with("Bearer " + good).status, 200);
}

TEST(FakeNoSecret, SignatureIsNotCheckedWithoutASecretButExpIs) {
    FakeRollout fake;   // demo mode: no client secret
    fake.start();
    CallOptions o;
    o.headers.emplace_back("Authorization", "Bearer " + mint_hs512_jwt("anything", "t", 60s));
    EXPECT_EQ(call(fake.port(), "GET", "/platform/api/connectors", {}, o).status, 200);
    o.headers.back().second = "Bearer " + mint_hs512_jwt("anything", "t", -60s);
    EXPECT_EQ(call(fake.port(), "GET", "/platform/api/connectors", {}, o).status, 401);
}

TEST_F(FakeTest, AutomationHostCreatesAndListsAutomations) {
    fake->add_credential("highlevel", "team-1", "ghl", {}, "c1");
    // Like Rollout, the project environment decides about credentials: unknown, or another team's.
    fake->add_credential("highlevel", "team-2", "other", {}, "c2");
    for (const char* cred : {"nope", "c2"}) {
        auto refused = api("POST", "/automation/api/automations",
                           std::string(R"({"name":"x","trigger":{"appKey":"highlevel","triggerKey":"t","credentialKey":")") +
                               cred + R"(","inputParams":{}},"action":{"appKey":"highlevel","actionKey":"a","credentialKey":"c1","inputParams":{}}})");
        EXPECT_EQ(refused.status, 400) << cred;
        EXPECT_NE(refused.body.find("trigger.credentialKey"), std::string::npos) << refused.body;
    }
    const std::string body = R"({"name":"Tour follow-up",
        "trigger":{"appKey":"highlevel","triggerKey":"appointment_created","credentialKey":"c1","inputParams":{}},
        "action":{"appKey":"highlevel","actionKey":"create_task","credentialKey":"c1",
                  "inputParams":{"title":"Follow up {{trigger.name}}"}}})";
    auto r = api("POST", "/automation/api/automations", body);
    ASSERT_EQ(r.status, 200) << r.body;
    auto a = r.json().as_object();
    EXPECT_TRUE(a["id"].is_string());
    EXPECT_EQ(a["status"].as_string(), "READY");
    EXPECT_EQ(a["consumerKey"].as_string(), "team-1");
    EXPECT_EQ(a["action"].at("inputParams").at("title").as_string(), "Follow up {{trigger.name}}");
    auto list = api("GET", "/automation/api/automations").json().as_array();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].at("id"), a["id"]);
    EXPECT_EQ(fake->state().at("automations").as_array().size(), 1u);

    auto missing = api("POST", "/automation/api/automations", R"({"name":"x","trigger":{"appKey":"a"}})");
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.json().at("errorMessage").as_string(), "trigger.triggerKey is required");
    EXPECT_EQ(api("POST", "/automation/api/automations", R"({"trigger":{}})").json().at("errorMessage").as_string(),
              "name is required");
    EXPECT_EQ(api("GET", "/automation/api/automation-runs").json().as_array().size(), 0u);
    EXPECT_EQ(api("POST", "/automation/api/trigger-push-event", R"({"appKey":"a","triggerKey":"t","payload":{}})").status, 200);
    EXPECT_EQ(api("POST", "/automation/api/trigger-push-event", R"({"appKey":"a"})").status, 400);
    EXPECT_FALSE(api("GET", "/automation/api/apps").json().as_array().empty());
    credential("lofty");
    auto creds = api("GET", "/automation/api/credentials?appKey=lofty").json().as_array();
    ASSERT_EQ(creds.size(), 1u);
    EXPECT_EQ(creds[0].at("credentialType").as_string(), "PRIMARY");
    CallOptions none;
    EXPECT_EQ(call(fake->port(), "GET", "/automation/api/automations", {}, none).status, 401);
}

TEST_F(FakeTest, ControlApiCreatesCredentialsMintsTokensAndResets) {
    auto c = control("POST", "/credentials", R"({"appKey":"highlevel","sub":"team-9","label":"GHL"})");
    ASSERT_EQ(c.status, 201) << c.body;
    EXPECT_EQ(c.json().at("sub").as_string(), "team-9");
    EXPECT_EQ(control("POST", "/credentials", R"({"appKey":"highlevel"})").status, 400);
    auto t = control("POST", "/jwt", R"({"sub":"team-9"})");
    ASSERT_EQ(t.status, 200);
    CallOptions o;
    o.headers.emplace_back("Authorization", "Bearer " + std::string(t.json().at("token").as_string()));
    auto list = call(fake->port(), "GET", "/platform/api/credentials", {}, o).json().as_array();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].at("label").as_string(), "GHL");

    auto state = control("GET", "/state").json().as_object();
    EXPECT_EQ(state["credentials"].as_array().size(), 1u);
    const std::string id(c.json().at("id").as_string());
    EXPECT_EQ(state["crm"].at(id).at("counts").at("appointment-types").as_int64(), 1);
    EXPECT_EQ(state["crm"].at(id).at("appKey").as_string(), "highlevel");
    EXPECT_EQ(state["requestCount"].as_int64(), 1);   // /_fake/ calls are not recorded

    EXPECT_EQ(control("POST", "/reset").status, 200);
    state = control("GET", "/state").json().as_object();
    EXPECT_TRUE(state["credentials"].as_array().empty());
    EXPECT_EQ(state["requestCount"].as_int64(), 0);
    EXPECT_EQ(control("GET", "/nope").status, 404);
    EXPECT_EQ(call(fake->port(), "GET", "/elsewhere").status, 404);
}

TEST_F(FakeTest, EveryRequestIsRecorded) {
    auto cred = credential("lofty");
    crm("POST", "/people?x=1", cred, R"({"firstName":"Bo","lastName":"B"})");
    api("GET", "/platform/api/connectors");
    auto log = fake->requests();
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].method, "POST");
    EXPECT_EQ(log[0].path, "/crm/api/people");
    EXPECT_EQ(log[0].query, "x=1");
    EXPECT_EQ(log[0].params.at("x"), "1");
    EXPECT_EQ(log[0].credential_id, cred);
    EXPECT_EQ(log[0].headers.at("x-rollout-credential-id"), cred);
    EXPECT_EQ(log[0].headers.at("content-type"), "application/json");
    EXPECT_EQ(log[0].jwt_claims.at("sub").as_string(), "team-1");
    EXPECT_EQ(log[0].json.at("firstName").as_string(), "Bo");
    EXPECT_EQ(log[0].status, 201);
    EXPECT_FALSE(log[0].tls);
    EXPECT_EQ(log[1].path, "/platform/api/connectors");
    EXPECT_LT(log[0].seq, log[1].seq);

    auto http_log = control("GET", "/requests").json().as_array();
    ASSERT_EQ(http_log.size(), 2u);
    EXPECT_EQ(http_log[0].at("body").as_string(), R"({"firstName":"Bo","lastName":"B"})");
    EXPECT_EQ(http_log[0].at("credentialId").as_string(), cred);
    EXPECT_EQ(control("GET", "/requests?since=1").json().as_array().size(), 1u);
    control("DELETE", "/requests");
    EXPECT_TRUE(fake->requests().empty());
}

}  // namespace rollout_mcp::fake::test
