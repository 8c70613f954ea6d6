// create_automation against the fake Rollout: REanna's payload as it sends it (the gohighlevel alias, a
// rollout-tools webhook trigger, {{...}} placeholders), the same name and spec again (replayed, nothing new),
// the same name with another spec (refused, naming `name`), Rollout's own refusal of a credential (passed
// through as its message), and an answer lost after Rollout created it (the next call finds it by name).
#include "sync_harness.hpp"

#include "server/tools/rollout_tools.hpp"

#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;

class AutomationTool : public ::testing::Test {
protected:
    void SetUp() override {
        team = h.add_team("automations", {"highlevel"});
        webhook = "webhook-cred-123";   // the trigger credential key REanna hard-codes, in the team's environment
        h.fake().add_credential("rollout-tools", team, "webhooks", {}, webhook);
        register_rollout_tools(tools, h.team(), SyncToolsDeps{&h.team(), &h.worker(), std::chrono::milliseconds(0)});
    }

    json::object reanna_payload(const std::string& name = "New Feedback Notification") {
        return json::object{
            {"name", name},
            {"trigger", json::object{{"appKey", "rollout-tools"}, {"triggerKey", "webhook"}, {"credentialKey", webhook},
                                     {"inputParams", json::object{{"endpoint", "/feedback-webhook"}}}}},
            {"action", json::object{{"appKey", "gohighlevel"}, {"actionKey", "create_task"},
                                    {"credentialKey", h.credential(team, "highlevel")},
                                    {"inputParams", json::object{{"title", "Review New Property Feedback"},
                                                                 {"description", "{{data.feedback}}"},
                                                                 {"dueDate", "{{formatDate add='1' 'days' format='YYYY-MM-DD'}}"},
                                                                 {"assignedTo", "{{data.listingAgentId}}"}}}}}};
    }
    json::object call(const json::object& args) { return call_tool(h, tools, team, "create_automation", args); }
    static const json::object& sc(const json::object& r) { return r.at("structuredContent").as_object(); }
    static bool is_error(const json::object& r) { return r.contains("isError") && r.at("isError").as_bool(); }
    static std::string message(const json::object& r) { return std::string(sc(r).at("message").as_string()); }
    json::array automations() { return h.fake().state().at("automations").as_array(); }

    Harness h;
    ToolRegistry tools;
    std::string team, webhook;
};

TEST_F(AutomationTool, ReannaPayloadIsCreatedOnceWithTheAliasMapped) {
    auto first = call(reanna_payload());
    ASSERT_FALSE(is_error(first)) << message(first);
    const std::string id(sc(first).at("id").as_string());
    EXPECT_FALSE(sc(first).at("replayed").as_bool());
    auto stored = automations();
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(stored[0].at("id").as_string(), id);
    EXPECT_EQ(stored[0].at("action").at("appKey").as_string(), "highlevel");   // alias mapped
    EXPECT_EQ(stored[0].at("action").at("inputParams").at("dueDate").as_string(),
              "{{formatDate add='1' 'days' format='YYYY-MM-DD'}}");

    // The same call again (REanna's repeat, or the alias spelled canonically): the first automation, nothing new.
    auto again = call(reanna_payload());
    ASSERT_FALSE(is_error(again)) << message(again);
    EXPECT_TRUE(sc(again).at("replayed").as_bool());
    EXPECT_EQ(sc(again).at("id").as_string(), id);
    auto canonical = reanna_payload();
    canonical["action"].as_object()["appKey"] = "highlevel";
    auto same = call(canonical);
    EXPECT_TRUE(sc(same).at("replayed").as_bool()) << message(same);
    EXPECT_EQ(automations().size(), 1u);
}

TEST_F(AutomationTool, SameNameWithAnotherSpecIsRefusedNamingTheName) {
    ASSERT_FALSE(is_error(call(reanna_payload())));
    auto other = reanna_payload();
    other["action"].as_object()["inputParams"].as_object()["title"] = "Something else";
    auto r = call(other);
    ASSERT_TRUE(is_error(r));
    EXPECT_EQ(message(r).rfind("name:", 0), 0u) << message(r);
    EXPECT_EQ(automations().size(), 1u);
    auto renamed = reanna_payload("Another Notification");
    renamed["action"] = other["action"];
    EXPECT_FALSE(is_error(call(renamed)));
    EXPECT_EQ(automations().size(), 2u);
}

TEST_F(AutomationTool, RolloutDecidesAboutCredentialsAndItsRefusalFreesTheName) {
    auto bad = reanna_payload();
    bad["trigger"].as_object()["credentialKey"] = "no-such-credential";
    auto r = call(bad);
    ASSERT_TRUE(is_error(r));
    EXPECT_NE(message(r).find("credentialKey"), std::string::npos) << message(r);   // Rollout's own message
    EXPECT_TRUE(automations().empty());
    // Nothing was created, so the name is free for the corrected call.
    auto fixed = call(reanna_payload());
    EXPECT_FALSE(is_error(fixed)) << message(fixed);
    EXPECT_EQ(automations().size(), 1u);
}

TEST_F(AutomationTool, AnAnswerLostAfterRolloutCreatedItIsFoundByName) {
    fake::FaultRule lost;
    lost.method = "POST";
    lost.path_prefix = "/automation/api/automations";
    lost.action = fake::FaultRule::Action::reset_after_write;
    h.fake().add_fault(lost);
    auto first = call(reanna_payload());
    ASSERT_TRUE(is_error(first)) << "the reset should have been reported";
    EXPECT_NE(message(first).find("may or may not"), std::string::npos) << message(first);
    ASSERT_EQ(automations().size(), 1u);   // Rollout created it
    auto second = call(reanna_payload());
    ASSERT_FALSE(is_error(second)) << message(second);
    EXPECT_TRUE(sc(second).at("replayed").as_bool());
    EXPECT_EQ(sc(second).at("id").as_string(), automations()[0].at("id").as_string());
    EXPECT_EQ(automations().size(), 1u);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
