// Rollout's webhooks in (issue 20), over real sockets on the storage backend under test: the fake Rollout's
// subscriptions and its signed deliveries to the real HttpServer + RolloutHookReceiver. Each refusal code,
// the four signature forms, deduplication (duplicated, replayed, out of order), the public_url Host rule,
// two teams' routes kept apart, and a delivery answered 2xx surviving a SIGKILL of the server.
#include "tests/sync/hook_server.hpp"
#include "tests/sync/sync_harness.hpp"

#include "support/http_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using fake::DigestForm;
using fake::Signing;
using fake::SignedInput;
using fake::WebhookEvent;

std::string issue_route(Harness& h, const std::string& tenant, const std::string& crm = "highlevel") {
    auto r = h.on_storage([tenant, crm](storage::Storage& s) { return s.issue_hook_route(tenant, crm); });
    if (!r) throw std::runtime_error(r.error().message);
    return std::string(r->text());
}

std::vector<storage::HookInboxRow> inbox(Harness& h, const std::string& tenant) {
    auto rows = h.on_storage([tenant](storage::Storage& s) { return s.list_hook_inbox(tenant, 100); });
    if (!rows) throw std::runtime_error(rows.error().message);
    return *rows;
}

// Subscribes the team's credential to `event` at `url` through the fake's CRM API, as Rollout's is used.
void subscribe(Harness& h, const std::string& tenant, const std::string& credential, const std::string& event,
               const std::string& url) {
    test::CallOptions o;
    o.headers = {{"Authorization", "Bearer " + h.fake().mint_jwt(tenant)},
                 {"X-Rollout-Credential-Id", credential},
                 {"Content-Type", "application/json"}};
    const auto body = json::serialize(json::object{{"url", url}, {"event", event}, {"filters", json::object{}}});
    auto r = test::call(h.fake().port(), "POST", "/crm/api/webhooks", body, o);
    if (r.status != 201) throw std::runtime_error("subscribe: " + std::to_string(r.status) + " " + r.body);
}

class WebhooksIn : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto why = h.database().unavailable(); !why.empty()) GTEST_SKIP() << why;
        team = h.add_team("hooks-a");
        cred = h.credential(team, "highlevel");
    }
    // A server with the given per-route pacing.
    void serve(HookLimits limits = {}) { server.emplace(h.storage(), limits); }

    Harness h;
    std::string team, cred;
    std::optional<HookServer> server;
};

TEST_F(WebhooksIn, ValidDeliveryIsCommittedAndRedeliveriesAnswer2xxWithoutANewRow) {
    serve();
    const auto route = issue_route(h, team);
    subscribe(h, team, cred, "appointmentsUpdated", server->url(route));
    ASSERT_EQ(h.fake().webhooks(cred).size(), 1u);
    const WebhookEvent event{"appointmentsUpdated", {"apt_1", "apt_2"}, "evt-1", "2026-12-01T10:00:00-06:00"};
    auto first = h.fake().deliver(cred, event);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].status, 200u) << first[0].body;
    EXPECT_NE(first[0].body.find("stored"), std::string::npos);
    // Rollout's at-least-once redelivery, and a replay of the same bytes later: 2xx, nothing new.
    for (int i = 0; i < 2; ++i) {
        auto again = h.fake().deliver(cred, event);
        EXPECT_EQ(again.at(0).status, 200u);
        EXPECT_NE(again.at(0).body.find("duplicate"), std::string::npos);
    }
    auto rows = inbox(h, team);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].crm_type, "highlevel");
    EXPECT_EQ(rows[0].delivery.event_id, "evt-1");
    EXPECT_EQ(rows[0].delivery.event, "appointmentsUpdated");
    EXPECT_EQ(rows[0].delivery.event_created, "2026-12-01T10:00:00-06:00");
    EXPECT_EQ(rows[0].delivery.resource_ids_json, R"(["apt_1","apt_2"])");
    EXPECT_GT(rows[0].received_at, 0);
    // The payload's uri pointed at the fake's CRM host: the receiver never fetched it.
    for (const auto& r : h.fake().requests()) EXPECT_NE(r.method, "GET") << r.target;
}

TEST_F(WebhooksIn, EachOfTheFourSignatureFormsIsAccepted) {
    serve();
    subscribe(h, team, cred, "peopleUpdated", server->url(issue_route(h, team)));
    int n = 0;
    for (auto input : {SignedInput::raw_body, SignedInput::base64_body})
        for (auto form : {DigestForm::hex, DigestForm::base64}) {
            const WebhookEvent e{"peopleUpdated", {"p1"}, "form-" + std::to_string(n++), ""};
            auto r = h.fake().deliver(cred, e, Signing::valid, input, form);
            EXPECT_EQ(r.at(0).status, 200u) << n << " " << r.at(0).body;
        }
    EXPECT_EQ(inbox(h, team).size(), 4u);
}

TEST_F(WebhooksIn, UnknownUnsignedForgedOtherKeyMalformedAndWrongMethodAreRefused) {
    serve();
    const auto route = issue_route(h, team);
    const auto secret = std::string("sync-test-secret");
    const auto body = fake::webhook_body({"peopleCreated", {"p1"}, "evt-x", ""}, h.fake().crm_url());
    // A well-formed route nobody was given, a truncated one, and one of another shape: 404 alike.
    for (const std::string& bad : {std::string(43, 'A'), route.substr(0, 42), std::string("..")})
        EXPECT_EQ(fake::post_webhook(server->url(bad), body, secret).status, 404u) << bad;
    EXPECT_EQ(fake::post_webhook(server->url(route), body, secret, Signing::unsigned_).status, 401u);
    EXPECT_EQ(fake::post_webhook(server->url(route), body, secret, Signing::forged).status, 403u);
    EXPECT_EQ(fake::post_webhook(server->url(route), body, secret, Signing::other_key).status, 403u);
    EXPECT_EQ(fake::post_webhook(server->url(route), body, secret, Signing::forged, SignedInput::base64_body,
                                 DigestForm::base64).status, 403u);
    // Signed, but not a Rollout notification.
    for (const std::string& junk : {std::string("not json"), std::string(R"({"event":"peopleCreated","resourceIds":[]})"),
                                   std::string(R"({"eventId":"e","event":"peopleCreated","resourceIds":[{}]})")})
        EXPECT_EQ(fake::post_webhook(server->url(route), junk, secret).status, 400u) << junk;
    auto get = test::call(server->port(), "GET", std::string(kHookPrefix) + "/hooks/rollout/" + route);
    EXPECT_EQ(get.status, 405);
    EXPECT_TRUE(inbox(h, team).empty());
    // The route is not an MCP path: no API key, and the MCP endpoint is where it was.
    EXPECT_EQ(test::call(server->port(), "POST", std::string(kHookPrefix) + "/hooks/rollout/" + route + "/x", body).status, 404);
}

TEST_F(WebhooksIn, AnOversizedBodyIs413BeforeItIsRead) {
    serve();
    const auto route = issue_route(h, team);
    const std::string path = std::string(kHookPrefix) + "/hooks/rollout/" + route;
    // Only the head is sent, announcing more than the cap: the answer comes without the body.
    test::Client c(server->port());
    ASSERT_TRUE(c.send("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       "Content-Length: " + std::to_string(kMaxHookBodyBytes + 1) + "\r\n\r\n"));
    auto r = c.read_response(5s);
    EXPECT_EQ(r.status, 413) << r.error;
    // Chunked (no length announced), past the cap: the read stops at the cap with 413, or the server
    // closes while the client is still sending.
    test::Client chunked(server->port());
    std::ostringstream size;
    size << std::hex << (kMaxHookBodyBytes + 10);
    chunked.send("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" + size.str() +
                 "\r\n" + std::string(kMaxHookBodyBytes + 10, 'x') + "\r\n0\r\n\r\n");
    auto refused = chunked.read_response(5s);
    EXPECT_TRUE(refused.status == 413 || refused.status == 0) << refused.status;
    // Exactly at the cap is read (and then refused for its signature, not its size).
    auto at_cap = fake::post_webhook(server->url(route), std::string(kMaxHookBodyBytes, ' '), "sync-test-secret",
                                     Signing::unsigned_);
    EXPECT_EQ(at_cap.status, 401u);
}

TEST_F(WebhooksIn, ARouteOverItsRateGets429WithRetryAfter) {
    serve(HookLimits{0.01, 3});   // a token back every 100 s: none comes back during the test
    const auto route = issue_route(h, team);
    subscribe(h, team, cred, "tasksCreated", server->url(route));
    std::vector<unsigned> statuses;
    for (int i = 0; i < 6; ++i)
        statuses.push_back(h.fake().deliver(cred, {"tasksCreated", {"t"}, "rate-" + std::to_string(i), ""}).at(0).status);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200u), 3) << ::testing::PrintToString(statuses);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429u), 3);
    const auto body = fake::webhook_body({"tasksCreated", {"t"}, "rate-x", ""}, h.fake().crm_url());
    test::CallOptions o;
    o.headers = {{"X-Rollout-Signature", fake::webhook_signature("sync-test-secret", body, SignedInput::raw_body, DigestForm::hex)}};
    auto r = test::call(server->port(), "POST", std::string(kHookPrefix) + "/hooks/rollout/" + route, body, o);
    EXPECT_EQ(r.status, 429);
    EXPECT_GE(std::stoi(r.header("retry-after")), 1);
    // Another team's route has its own budget.
    const auto other = h.add_team("hooks-b");
    const auto other_cred = h.credential(other, "highlevel");
    subscribe(h, other, other_cred, "tasksCreated", server->url(issue_route(h, other)));
    EXPECT_EQ(h.fake().deliver(other_cred, {"tasksCreated", {"t"}, "rate-b", ""}).at(0).status, 200u);
}

TEST_F(WebhooksIn, OutOfOrderDeliveriesAreAllKeptInArrivalOrder) {
    serve();
    subscribe(h, team, cred, "notesCreated", server->url(issue_route(h, team)));
    const WebhookEvent newer{"notesCreated", {"n2"}, "evt-new", "2026-12-01T10:05:00Z"};
    const WebhookEvent older{"notesCreated", {"n1"}, "evt-old", "2026-12-01T10:00:00Z"};
    EXPECT_EQ(h.fake().deliver(cred, newer).at(0).status, 200u);
    EXPECT_EQ(h.fake().deliver(cred, older).at(0).status, 200u);
    EXPECT_EQ(h.fake().deliver(cred, newer).at(0).status, 200u);   // replayed after the older one
    auto rows = inbox(h, team);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].delivery.event_id, "evt-new");
    EXPECT_EQ(rows[1].delivery.event_id, "evt-old");
}

TEST_F(WebhooksIn, TwoTeamsRoutesAreIsolated) {
    serve();
    const auto other = h.add_team("hooks-b");
    const auto route_a = issue_route(h, team);
    const auto route_b = issue_route(h, other);
    ASSERT_NE(route_a, route_b);
    // Team B's own key is its webhookSecret; team A keeps its client secret.
    {
        auto stored = h.on_storage([other](storage::Storage& s) { return s.get_rollout_config(other); });
        ASSERT_TRUE(stored);
        const std::string settings = stored->settings_json;
        const auto key = std::string("team-b-only-key-0123456789");
        const std::string secret(stored->secret.text());
        auto put = h.on_storage([other, settings, secret, key](storage::Storage& s) {
            return s.put_rollout_config(other, settings, test::bytes(secret), test::bytes(key));
        });
        ASSERT_TRUE(put);
    }
    // The same eventId on both teams: each team keeps its own.
    const WebhookEvent shared_id{"peopleUpdated", {"p"}, "evt-same", ""};
    const auto body = fake::webhook_body(shared_id, h.fake().crm_url());
    EXPECT_EQ(fake::post_webhook(server->url(route_a), body, "sync-test-secret").status, 200u);
    EXPECT_EQ(fake::post_webhook(server->url(route_b), body, "team-b-only-key-0123456789").status, 200u);
    // B's key does not open A's route, nor A's key B's.
    const auto body2 = fake::webhook_body({"peopleUpdated", {"p"}, "evt-cross", ""}, h.fake().crm_url());
    EXPECT_EQ(fake::post_webhook(server->url(route_a), body2, "team-b-only-key-0123456789").status, 403u);
    EXPECT_EQ(fake::post_webhook(server->url(route_b), body2, "sync-test-secret").status, 403u);
    ASSERT_EQ(inbox(h, team).size(), 1u);
    ASSERT_EQ(inbox(h, other).size(), 1u);
}

TEST_F(WebhooksIn, RoutesAreHashedReplacedAndDieWithTheirConnection) {
    serve();
    const auto first = issue_route(h, team);
    EXPECT_EQ(first.size(), 43u);
    const auto second = issue_route(h, team);
    const auto body = fake::webhook_body({"peopleCreated", {"p"}, "", ""}, h.fake().crm_url());
    EXPECT_EQ(fake::post_webhook(server->url(first), body, "sync-test-secret").status, 404u);   // replaced
    EXPECT_EQ(fake::post_webhook(server->url(second), body, "sync-test-secret").status, 200u);
    // Only a 32-byte hash is stored: the route text appears nowhere in the database.
    auto raw = h.database().raw();
    auto st = raw->prepare("SELECT count(*) FROM hook_routes WHERE length(route_hash) = 32");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.int64(0), 1);
    // The connection re-pointed at another credential: the route no longer matches.
    const std::string other_cred = "other-credential";
    ASSERT_TRUE(h.on_storage([this, other_cred](storage::Storage& s) {
        return s.put_crm_connection(team, "highlevel", "x", test::bytes(other_cred));
    }));
    EXPECT_EQ(fake::post_webhook(server->url(second), body, "sync-test-secret").status, 404u);
    const auto third = issue_route(h, team);
    ASSERT_TRUE(h.on_storage([this](storage::Storage& s) { return s.delete_crm_connection(team, "highlevel"); }));
    EXPECT_EQ(fake::post_webhook(server->url(third), body, "sync-test-secret").status, 404u);
}

TEST_F(WebhooksIn, PublicUrlHostIsAcceptedOnTheHooksPathOnly) {
    server.emplace(h.storage(), HookLimits{}, [](Config& c) {
        c.server.allowed_hosts = {"localhost"};
        c.server.public_url = std::string("https://hooks.example.com") + kHookPrefix;
    });
    const auto route = issue_route(h, team);
    const auto body = fake::webhook_body({"peopleCreated", {"p"}, "evt-host", ""}, h.fake().crm_url());
    const auto sig = fake::webhook_signature("sync-test-secret", body, SignedInput::raw_body, DigestForm::hex);
    const std::string path = std::string(kHookPrefix) + "/hooks/rollout/" + route;
    auto with_host = [&](const std::string& host, const std::string& target) {
        test::Client c(server->port());
        c.send(test::http_request("POST", target, {{"Host", host}, {"X-Rollout-Signature", sig},
                                                   {"Content-Type", "application/json"}}, body));
        return c.read_response(5s).status;
    };
    EXPECT_EQ(with_host("hooks.example.com", path), 200);
    EXPECT_EQ(with_host("HOOKS.example.com:443", path), 200);   // a duplicate now, still 2xx
    EXPECT_EQ(with_host("evil.example", path), 403);
    EXPECT_EQ(with_host("hooks.example.com", "/mcp"), 403);     // not an MCP host
    // auth.mode = "none" refuses proxied MCP requests; a delivery through the public proxy is fine.
    test::Client c(server->port());
    c.send(test::http_request("POST", path, {{"Host", "hooks.example.com"}, {"X-Forwarded-For", "203.0.113.9"},
                                             {"X-Rollout-Signature", sig}}, body));
    EXPECT_EQ(c.read_response(5s).status, 200);
    EXPECT_EQ(inbox(h, team).size(), 1u);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
