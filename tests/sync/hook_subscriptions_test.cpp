// Subscribing CRM connections to Rollout's webhooks (issue 20) through the real tools against the fake Rollout:
// configure_crm_connection subscribes every watched event at <public_url>/hooks/rollout/<route>, configuring
// again replaces the route and its subscriptions (the old route then answers 404), remove_crm_connection removes
// ours and never another system's; without a public_url or a webhook key the result and list_crm_changes'
// notice say why, naming the setting.
#include "server/sync/hook_subscriptions.hpp"
#include "server/sync/hook_upkeep.hpp"
#include "server/tools/rollout_tools.hpp"
#include "tests/sync/hook_server.hpp"
#include "tests/sync/sync_harness.hpp"

#include "fake_webhooks.hpp"
#include "support/http_client.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;

class HookSubscribing : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto why = h.database().unavailable(); !why.empty()) GTEST_SKIP() << why;
        team = h.add_team("subs-a");
        cred = h.credential(team, "highlevel");
        server.emplace(h.storage());
        base = "http://127.0.0.1:" + std::to_string(server->port()) + kHookPrefix;
    }
    void use(const std::string& public_url) {
        hooks.emplace(h.team(), public_url);
        register_config_tools(tools, h.team(), &*hooks);
    }
    json::object tool(const std::string& name, json::object args) { return call_tool(h, tools, team, name, args); }
    json::object connect() { return tool("configure_crm_connection", {{"crmType", "highlevel"}, {"credentialKey", cred}}); }
    static const json::object& sc(const json::object& r) { return r.at("structuredContent").as_object(); }
    static bool is_error(const json::object& r) { return r.contains("isError") && r.at("isError").as_bool(); }
    std::vector<std::string> our_urls() {
        std::vector<std::string> out;
        for (const auto& s : h.fake().webhooks(cred)) {
            const std::string url(s.at("url").as_string());
            if (url.rfind(base + "/hooks/rollout/", 0) == 0) out.push_back(url);
        }
        return out;
    }

    Harness h;
    ToolRegistry tools;
    std::string team, cred, base;
    std::optional<HookServer> server;
    std::optional<HookSubscriptions> hooks;
};

TEST_F(HookSubscribing, ConfiguringSubscribesEveryWatchedEventAndConfiguringAgainReplacesTheRoute) {
    use(base);
    // Another system's subscription on the same credential: never touched.
    test::CallOptions o;
    o.headers = {{"Authorization", "Bearer " + h.fake().mint_jwt(team)}, {"X-Rollout-Credential-Id", cred},
                 {"Content-Type", "application/json"}};
    ASSERT_EQ(test::call(h.fake().port(), "POST", "/crm/api/webhooks",
                         R"({"url":"https://other.example/hook","event":"peopleCreated"})", o).status, 201u);
    auto r = connect();
    ASSERT_FALSE(is_error(r)) << json::serialize(r);
    EXPECT_EQ(sc(r).at("changes").at("webhooks").as_string(), "subscribed");
    auto first = our_urls();
    ASSERT_EQ(first.size(), kHookEvents.size());
    EXPECT_EQ(std::set<std::string>(first.begin(), first.end()).size(), 1u) << "one route per connection";
    std::set<std::string> events;
    for (const auto& s : h.fake().webhooks(cred)) events.insert(std::string(s.at("event").as_string()));
    for (auto e : kHookEvents) EXPECT_TRUE(events.count(std::string(e))) << e;
    // The route is a secret: it is in no tool result.
    EXPECT_EQ(json::serialize(r).find("/hooks/rollout/"), std::string::npos);

    // A delivery reaches the route; after configuring again, only the new route is live.
    const fake::WebhookEvent event{"peopleUpdated", {"p1"}, "", ""};
    for (const auto& d : h.fake().deliver(cred, event)) EXPECT_EQ(d.status, 200u) << d.body;
    ASSERT_FALSE(is_error(connect()));
    auto second = our_urls();
    ASSERT_EQ(second.size(), kHookEvents.size());
    EXPECT_NE(second[0], first[0]);
    const auto body = fake::webhook_body(event, h.fake().crm_url());
    EXPECT_EQ(fake::post_webhook(first[0], body, "sync-test-secret").status, 404u);
    EXPECT_EQ(fake::post_webhook(second[0], body, "sync-test-secret").status, 200u);

    auto removed = tool("remove_crm_connection", {{"crmType", "highlevel"}});
    ASSERT_FALSE(is_error(removed)) << json::serialize(removed);
    EXPECT_TRUE(our_urls().empty());
    ASSERT_EQ(h.fake().webhooks(cred).size(), 1u);
    EXPECT_EQ(h.fake().webhooks(cred)[0].at("url").as_string(), "https://other.example/hook");
    EXPECT_EQ(fake::post_webhook(second[0], body, "sync-test-secret").status, 404u);
}

TEST_F(HookSubscribing, WithoutAPublicUrlTheResultAndTheChangeFeedSayWhy) {
    use("");
    auto r = connect();
    ASSERT_FALSE(is_error(r)) << json::serialize(r);
    EXPECT_EQ(sc(r).at("changes").at("webhooks").as_string(), "off");
    EXPECT_NE(std::string(sc(r).at("changes").at("reason").as_string()).find("public_url"), std::string::npos);
    EXPECT_TRUE(h.fake().webhooks(cred).empty());
    const auto notice = h.on_storage([this](storage::Storage& s) { return change_notice(s, team, ""); });
    EXPECT_NE(notice.find("public_url"), std::string::npos) << notice;
}

TEST_F(HookSubscribing, AnAuthTokenAloneHasNoWebhookKeyAndTheResultNamesWebhookSecret) {
    use(base);
    auto configured = tool("configure_rollout", {{"projectEnvKey", "p"}, {"baseUrl", h.fake().url()},
                                                  {"authToken", h.fake().mint_jwt(team)}});
    ASSERT_FALSE(is_error(configured)) << json::serialize(configured);
    auto r = connect();
    ASSERT_FALSE(is_error(r)) << json::serialize(r);
    EXPECT_EQ(sc(r).at("changes").at("webhooks").as_string(), "off");
    EXPECT_NE(std::string(sc(r).at("changes").at("reason").as_string()).find("webhookSecret"), std::string::npos);
    EXPECT_TRUE(our_urls().empty());
    const auto notice = h.on_storage([this](storage::Storage& s) { return change_notice(s, team, base); });
    EXPECT_NE(notice.find("webhookSecret"), std::string::npos) << notice;
    // list_crm_connections shows the token's expiry and why changes do not come back.
    auto listed = tool("list_crm_connections", {});
    ASSERT_FALSE(is_error(listed)) << json::serialize(listed);
    EXPECT_EQ(sc(listed).at("rolloutAuth").at("mode").as_string(), "authToken");
    EXPECT_FALSE(sc(listed).at("rolloutAuth").at("expired").as_bool());
    EXPECT_TRUE(sc(listed).at("rolloutAuth").as_object().contains("expiresAt"));
    EXPECT_NE(std::string(sc(listed).at("message").as_string()).find("authToken expires at"), std::string::npos);
    EXPECT_EQ(sc(listed).at("changes").at("webhooks").as_string(), "off");
    EXPECT_NE(std::string(sc(listed).at("changes").at("reason").as_string()).find("webhookSecret"), std::string::npos);
    // With a webhookSecret it subscribes.
    configured = tool("configure_rollout", {{"projectEnvKey", "p"}, {"baseUrl", h.fake().url()},
                                            {"authToken", h.fake().mint_jwt(team)},
                                            {"webhookSecret", "whsec-0123456789abcdef"}});
    ASSERT_FALSE(is_error(configured)) << json::serialize(configured);
    EXPECT_EQ(sc(connect()).at("changes").at("webhooks").as_string(), "subscribed");
    EXPECT_EQ(our_urls().size(), kHookEvents.size());
    EXPECT_EQ(h.on_storage([this](storage::Storage& s) { return change_notice(s, team, base); }), "");
    EXPECT_EQ(sc(tool("list_crm_connections", {})).at("changes").at("webhooks").as_string(), "available");
}

// The upkeep loop: a connection stored without subscriptions (configured before public_url was set) is subscribed
// by the reconcile round; without a public_url, a change made in the CRM arrives by polling, with no delivery.
class HookUpkeeping : public HookSubscribing {
protected:
    // `reconcile_lease`: how long a connection's reconcile claim lasts (also when its first check at Rollout is due).
    void start(const std::string& public_url,
               std::chrono::milliseconds reconcile_lease = HookUpkeepSettings{}.reconcile_lease) {
        use(public_url);
        HookProcessorSettings p;
        p.poll = std::chrono::milliseconds(100);
        processor.emplace(h.storage(), h.team(), p, [] {});
        processor->start(h.io().get_executor());
        HookUpkeepSettings u;
        u.poll_every = std::chrono::milliseconds(200);
        u.min_recheck = std::chrono::milliseconds(200);
        u.reconcile_every = std::chrono::milliseconds(200);
        u.reconcile_lease = reconcile_lease;
        upkeep.emplace(h.storage(), *hooks, *processor, u);
        upkeep->start(h.io().get_executor());
    }
    void TearDown() override {
        if (upkeep) upkeep->stop();
        if (processor) processor->stop();
    }
    template <class F>
    bool within(std::chrono::seconds limit, F done) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (done()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
    std::optional<HookProcessor> processor;
    std::optional<HookUpkeep> upkeep;
};

TEST_F(HookUpkeeping, AConnectionWithoutSubscriptionsIsSubscribedByTheReconcileRound) {
    start(base);
    EXPECT_TRUE(within(std::chrono::seconds(10), [&] { return our_urls().size() == kHookEvents.size(); }));
    EXPECT_TRUE(within(std::chrono::seconds(5), [&] {
        auto r = h.on_storage([this](storage::Storage& s) { return s.hook_subscribed(team, "highlevel"); });
        return r && *r && **r;
    }));
    // Subscribed: no further rounds for it (its subscriptions stay the same ones).
    const auto urls = our_urls();
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(our_urls(), urls);
}

// Someone deletes one of our subscriptions at Rollout's end and disables another: the reconcile loop's check makes
// both events again at the same route and leaves the ten working subscriptions alone, instead of the connection's
// changes stopping silently. When none names the route any more, the connection is subscribed afresh.
TEST_F(HookUpkeeping, SubscriptionsDeletedOrDisabledAtRolloutAreRepairedInPlace) {
    start(base, std::chrono::milliseconds(200));
    ASSERT_TRUE(within(std::chrono::seconds(10), [&] { return our_urls().size() == kHookEvents.size(); }));
    const std::string route_url = our_urls().front();
    std::vector<std::string> ids;
    for (const auto& s : h.fake().webhooks(cred)) ids.push_back(rollout::id_of(s.at("id")));
    ASSERT_EQ(ids.size(), kHookEvents.size());
    test::CallOptions o;
    o.headers = {{"Authorization", "Bearer " + h.fake().mint_jwt(team)}, {"X-Rollout-Credential-Id", cred},
                 {"Content-Type", "application/json"}};
    ASSERT_EQ(test::call(h.fake().port(), "DELETE", "/crm/api/webhooks/" + ids[0], "", o).status, 200u);
    ASSERT_EQ(test::call(h.fake().port(), "PUT", "/crm/api/webhooks/" + ids[1], R"({"status":"Disabled"})", o).status,
              200u);
    const auto active = [&] {
        std::set<std::string> events, urls;
        for (const auto& s : h.fake().webhooks(cred))
            if (s.at("status").as_string() != "Disabled") {
                events.insert(std::string(s.at("event").as_string()));
                urls.insert(std::string(s.at("url").as_string()));
            }
        return std::pair{events, urls};
    };
    EXPECT_TRUE(within(std::chrono::seconds(10), [&] {
        return active().first.size() == kHookEvents.size() && h.fake().webhooks(cred).size() == kHookEvents.size();
    })) << "the two events subscribed again, the disabled subscription deleted";
    EXPECT_EQ(active().second, (std::set<std::string>{route_url})) << "at the same route";
    std::set<std::string> now;
    for (const auto& s : h.fake().webhooks(cred)) now.insert(rollout::id_of(s.at("id")));
    for (std::size_t i = 2; i < ids.size(); ++i) EXPECT_TRUE(now.count(ids[i])) << "a working subscription kept";
    // Every subscription gone: subscribed afresh, at a new route.
    for (const auto& id : now) ASSERT_EQ(test::call(h.fake().port(), "DELETE", "/crm/api/webhooks/" + id, "", o).status, 200u);
    EXPECT_TRUE(within(std::chrono::seconds(10), [&] {
        const auto urls = our_urls();
        return urls.size() == kHookEvents.size() && urls.front() != route_url;
    }));
}

TEST_F(HookUpkeeping, WithoutAPublicUrlACrmEditArrivesByPolling) {
    h.start();
    ASSERT_EQ(h.wait_finished(team, h.enqueue_tour(team, make_tour("T1", "B1", 1)).at(0)).status,
              storage::JobStatus::succeeded);
    start("");
    auto visits = h.on_storage([this](storage::Storage& s) { return s.sync_ledger_visits(team, "highlevel", "T1"); });
    ASSERT_TRUE(visits && visits->size() == 1u);
    test::CallOptions o;
    o.headers = {{"Authorization", "Bearer " + h.fake().mint_jwt(team)}, {"X-Rollout-Credential-Id", cred},
                 {"Content-Type", "application/json"}};
    ASSERT_EQ(test::call(h.fake().port(), "PUT", "/crm/api/appointments/" + visits->at(0).external_id,
                         R"({"status":"cancelled"})", o).status, 200u);
    std::vector<storage::CrmChange> got;
    EXPECT_TRUE(within(std::chrono::seconds(15), [&] {
        auto page = h.on_storage([this](storage::Storage& s) { return s.list_crm_changes(team, std::nullopt, 10); });
        if (page) got = page->changes;
        return !got.empty();
    }));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, "showing_cancelled");
    EXPECT_TRUE(h.fake().webhooks(cred).empty()) << "nothing to subscribe to without a public_url";
    // Polled again and again, the same state is no new change.
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    auto page = h.on_storage([this](storage::Storage& s) { return s.list_crm_changes(team, std::nullopt, 10); });
    ASSERT_TRUE(page);
    EXPECT_EQ(page->changes.size(), 1u);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
