// The CRM change feed out to clients (README, "Changes from the CRM"), on SQLite and PostgreSQL: list_crm_changes
// paging, cursors, team isolation and truncation; events/poll resume; and webhook delivery over real loopback
// sockets to a receiver that checks Standard Webhooks signatures with its own code (OpenSSL, not the signer's
// libsodium): each change once and in order, 410 drops the subscription, 413 is not retried, 5xx is retried with
// backoff, two workers deliver each event once, and a callback to a loopback origin that is not listed is refused
// before any connection.
#include "sync_harness.hpp"

#include "rollout/destination.hpp"
#include "server/sync/change_view.hpp"
#include "server/sync/event_delivery.hpp"
#include "server/tools/change_tools.hpp"
#include "tests/rollout/scripted_rollout.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using rollout::test::RecordedRequest;
using rollout::test::ScriptedReply;
using namespace std::chrono_literals;

const std::string kSecret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Standard Webhooks verification, written from the specification (https://www.standardwebhooks.com/): drop
// "whsec_", base64-decode, HMAC-SHA256 over "<id>.<timestamp>.<body>", base64, compare with each "v1," entry;
// timestamps more than 5 minutes away are refused.
bool verify_standard_webhook(const std::string& secret, const RecordedRequest& r) {
    const auto header = [&r](const char* name) {
        auto it = r.headers.find(name);
        return it == r.headers.end() ? std::string() : it->second;
    };
    const std::string id = header("webhook-id"), ts = header("webhook-timestamp"), sigs = header("webhook-signature");
    if (id.empty() || ts.empty() || sigs.empty()) return false;
    if (std::llabs(std::stoll(ts) - now_ms() / 1000) > 300) return false;
    const std::string b64 = secret.substr(6);
    std::vector<unsigned char> key(b64.size());
    int len = EVP_DecodeBlock(key.data(), reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    if (len < 0) return false;
    len -= static_cast<int>(std::count(b64.end() - std::min<std::size_t>(2, b64.size()), b64.end(), '='));
    const std::string signed_text = id + "." + ts + "." + r.body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), key.data(), len, reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(),
         mac, &mac_len);
    std::string expected(4 * ((mac_len + 2) / 3) + 1, '\0');
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(expected.data()), mac, static_cast<int>(mac_len));
    expected.resize(expected.size() - 1);
    std::size_t from = 0;
    while (from < sigs.size()) {
        auto to = sigs.find(' ', from);
        if (to == std::string::npos) to = sigs.size();
        if (sigs.substr(from, to - from) == "v1," + expected) return true;
        from = to + 1;
    }
    return false;
}

// A loopback webhook receiver: answers the verification challenge, records events and answers each with
// status_for(request) (200 unless set).
class Receiver {
public:
    Receiver()
        : server_([this](const RecordedRequest& r) {
              std::lock_guard lock(mu_);
              if (r.json.is_object() && r.json.as_object().contains("challenge")) {
                  ++challenges_;
                  return ScriptedReply(200, json::serialize(json::object{{"challenge", r.json.at("challenge")}}));
              }
              events_.push_back(r);
              const unsigned status = status_for_ ? status_for_(r) : 200;
              return ScriptedReply(status, "{}");
          }) {}
    std::string url() const { return server_.url() + "/hook"; }
    std::string origin() const { return rollout::origin_of(server_.url()).value(); }
    void answer(std::function<unsigned(const RecordedRequest&)> f) {
        std::lock_guard lock(mu_);
        status_for_ = std::move(f);
    }
    std::vector<RecordedRequest> events() {
        std::lock_guard lock(mu_);
        return events_;
    }
    int challenges() {
        std::lock_guard lock(mu_);
        return challenges_;
    }
    int connections() const { return server_.connections(); }

private:
    std::mutex mu_;
    std::vector<RecordedRequest> events_;
    int challenges_ = 0;
    std::function<unsigned(const RecordedRequest&)> status_for_;
    rollout::test::ScriptedRollout server_;
};

std::string change_id_of(const RecordedRequest& r) { return std::string(r.json.at("data").at("changeId").as_string()); }

// The example of the Standard Webhooks specification (github.com/standard-webhooks/standard-webhooks, README):
// the signer and the test's verifier both agree with it.
TEST(StandardWebhooks, SignerAndVerifierMatchTheSpecificationExample) {
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    auto key = parse_webhook_secret(secret);
    ASSERT_TRUE(key) << key.error().message;
    const std::string body = R"({"test": 2432232314})";
    EXPECT_EQ(webhook_signature(key->view(), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
              "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    for (const char* bad : {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_c2hvcnQ=", "whsec_!!!!"}) {
        auto refused = parse_webhook_secret(bad);
        ASSERT_FALSE(refused) << bad;
        EXPECT_EQ(refused.error().message.rfind("secret:", 0), 0u);
        EXPECT_EQ(refused.error().message.find("MfKQ"), std::string::npos) << "never echoed";
    }
    RecordedRequest stale;
    stale.headers = {{"webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"}, {"webhook-timestamp", "1614265330"},
                     {"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}};
    stale.body = body;
    EXPECT_FALSE(verify_standard_webhook(secret, stale)) << "right signature, but outside the 5-minute tolerance";
    EXPECT_EQ(parse_change_cursor("c42"), 42);
    for (const char* bad : {"", "c", "42", "c-1", "c1x", "c99999999999999999999", "C42"})
        EXPECT_FALSE(parse_change_cursor(bad)) << bad;
}

class ChangeFeed : public ::testing::Test {
protected:
    void SetUp() override {
        if (const auto why = h.database().unavailable(); !why.empty()) GTEST_SKIP() << why;
        a = h.add_team("feed-a");
        b = h.add_team("feed-b");
        settings.allowed_callback_origins = {receiver.origin()};
        settings.poll = 50ms;
        settings.backoff_base = 200ms;
        settings.backoff_max = 400ms;
        settings.max_attempts = 3;
    }
    void TearDown() override {
        for (auto& d : deliveries) d->stop();
        std::this_thread::sleep_for(100ms);
        for (auto& p : pools) p->close_idle();
    }
    std::string append(const std::string& tenant, const std::string& tour, const std::string& kind = "showing_cancelled") {
        storage::CrmChange c;
        c.kind = kind;
        c.tour_id = tour;
        c.visit_id = tour + "/P1";
        c.crm_type = "highlevel";
        c.record_id = "appt-" + tour;
        c.fields_json = R"({"status":"cancelled"})";
        c.occurred_at_ms = now_ms();
        auto r = h.on_storage([tenant, c](storage::Storage& s) { return s.append_crm_change(tenant, c, now_ms()); });
        if (!r) throw std::runtime_error(r.error().message);
        return r->id;
    }
    EventDelivery& start_delivery() {
        pools.push_back(make_event_pool(settings));
        deliveries.push_back(std::make_unique<EventDelivery>(h.storage(), settings, pools.back()));
        deliveries.back()->start(h.io().get_executor());
        return *deliveries.back();
    }
    ChangeDeps deps() {
        return ChangeDeps{&h.storage(), settings, std::make_shared<const std::string>(32, 'k'), nullptr, {}};
    }
    template <class Awaitable>
    auto run(Awaitable aw) {
        return boost::asio::co_spawn(h.io(), std::move(aw), boost::asio::use_future).get();
    }
    Result<json::object> subscribe(mcp::EventsBackend& events, const std::string& tenant, const std::string& url) {
        const json::object params{{"name", "crm.change"}, {"callbackUrl", url}, {"secret", kSecret}, {"ttlSeconds", 600}};
        return run(events.subscribe(tenant, params));
    }
    // Waits until `pred` holds or 10 s pass.
    template <class Pred>
    bool eventually(Pred pred) {
        const auto end = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < end) {
            if (pred()) return true;
            std::this_thread::sleep_for(20ms);
        }
        return pred();
    }

    Harness h;
    Receiver receiver;
    EventSettings settings;
    std::string a, b;
    std::vector<std::shared_ptr<rollout::HttpPool>> pools;
    std::vector<std::unique_ptr<EventDelivery>> deliveries;
};

TEST_F(ChangeFeed, ListCrmChangesPagesInOrderPerTeamWithCursors) {
    ToolRegistry tools;
    register_change_tools(tools, deps());
    for (int i = 1; i <= 5; ++i) append(a, "T" + std::to_string(i));
    append(b, "X1");
    auto first = call_tool(h, tools, a, "list_crm_changes", {{"limit", 2}});
    ASSERT_FALSE(first.contains("isError")) << json::serialize(first);
    const auto& sc = first.at("structuredContent").as_object();
    ASSERT_EQ(sc.at("changes").as_array().size(), 2u);
    EXPECT_EQ(sc.at("changes").at(0).at("tourId"), "T1");
    EXPECT_EQ(sc.at("changes").at(1).at("kind"), "showing_cancelled");
    EXPECT_EQ(sc.at("truncated"), false);
    const std::string cursor(sc.at("cursor").as_string());
    auto rest = call_tool(h, tools, a, "list_crm_changes", {{"since", cursor}});
    const auto& changes = rest.at("structuredContent").at("changes").as_array();
    ASSERT_EQ(changes.size(), 3u);
    EXPECT_EQ(changes.at(0).at("tourId"), "T3");
    EXPECT_EQ(changes.at(2).at("tourId"), "T5");
    auto other = call_tool(h, tools, b, "list_crm_changes", {});
    ASSERT_EQ(other.at("structuredContent").at("changes").as_array().size(), 1u);
    EXPECT_EQ(other.at("structuredContent").at("changes").at(0).at("tourId"), "X1") << "team b sees only its own";
    // b's cursor at a's position: ahead of b's log, refused naming the field.
    auto ahead = call_tool(h, tools, b, "list_crm_changes", {{"since", rest.at("structuredContent").at("cursor")}});
    EXPECT_EQ(ahead.at("isError"), true);
    EXPECT_NE(json::serialize(ahead).find("since"), std::string::npos);
    auto garbage = call_tool(h, tools, a, "list_crm_changes", {{"since", "not-a-cursor"}});
    EXPECT_EQ(garbage.at("isError"), true);
    EXPECT_NE(json::serialize(garbage).find("since: not a change-log cursor"), std::string::npos);
}

TEST_F(ChangeFeed, EventsPollResumesFromItsCursorAndSaysWhenChangesWereTrimmed) {
    auto events = make_change_events(deps());
    const auto listed = events->list();
    EXPECT_EQ(listed.at("events").at(0).at("name"), "crm.change");
    EXPECT_TRUE(listed.at("events").at(0).as_object().contains("payloadSchema"));
    for (int i = 1; i <= 3; ++i) append(a, "T" + std::to_string(i));
    const json::object first_params{{"name", "crm.change"}, {"maxEvents", 2}};
    auto first = run(events->poll(a, first_params));
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_EQ(first->at("events").as_array().size(), 2u);
    EXPECT_EQ(first->at("hasMore"), true);
    const json::object next_params{{"name", "crm.change"}, {"cursor", first->at("cursor")}};
    auto next = run(events->poll(a, next_params));
    ASSERT_TRUE(next);
    ASSERT_EQ(next->at("events").as_array().size(), 1u);
    EXPECT_EQ(next->at("events").at(0).at("data").at("tourId"), "T3");
    // The cap trims the oldest: a cursor from before them is answered truncated.
    storage::StorageLimits limits;
    limits.max_changes_per_tenant = 2;
    h.on_storage([limits](storage::Storage& s) {
        s.set_limits(limits);
        return 0;
    });
    for (int i = 4; i <= 6; ++i) append(a, "T" + std::to_string(i));
    auto late = run(events->poll(a, next_params));
    ASSERT_TRUE(late);
    EXPECT_EQ(late->at("truncated"), true);
    EXPECT_EQ(late->at("events").at(0).at("data").at("tourId"), "T5");
    const json::object bad{{"name", "crm.change"}, {"cursor", "c999"}};
    auto refused = run(events->poll(a, bad));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message.rfind("cursor:", 0), 0u) << refused.error().message;
}

TEST_F(ChangeFeed, WebhookDeliversEachChangeOnceSignedAndInOrderAfterTheChallenge) {
    auto events = make_change_events(deps());
    auto sub = subscribe(*events, a, receiver.url());
    ASSERT_TRUE(sub) << sub.error().message;
    const std::string sub_id(sub->at("subscriptionId").as_string());
    auto again = subscribe(*events, a, receiver.url());
    ASSERT_TRUE(again);
    EXPECT_EQ(std::string(again->at("subscriptionId").as_string()), sub_id) << "subscribing again refreshes the same subscription";
    start_delivery();
    ASSERT_TRUE(eventually([&] { return receiver.challenges() >= 1; }));
    std::vector<std::string> ids;
    for (int i = 1; i <= 3; ++i) ids.push_back(append(a, "T" + std::to_string(i)));
    append(b, "X1");   // another team's change never reaches a's callback
    ASSERT_TRUE(eventually([&] { return receiver.events().size() >= 3; }));
    std::this_thread::sleep_for(300ms);   // room for a duplicate to show up
    const auto got = receiver.events();
    ASSERT_EQ(got.size(), 3u);
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_TRUE(verify_standard_webhook(kSecret, got[i])) << "event " << i;
        EXPECT_EQ(change_id_of(got[i]), ids[i]) << "in order";
        EXPECT_EQ(got[i].headers.at("webhook-id"), ids[i]);
        EXPECT_EQ(got[i].headers.at("x-mcp-subscription-id"), sub_id);
        EXPECT_EQ(got[i].json.at("name"), "crm.change");
    }
    RecordedRequest forged = got[0];
    forged.body += " ";
    EXPECT_FALSE(verify_standard_webhook(kSecret, forged)) << "the verifier is not a rubber stamp";
}

TEST_F(ChangeFeed, A413IsNotRetriedA5xxIsRetriedWithBackoffA410DropsTheSubscription) {
    auto events = make_change_events(deps());
    ASSERT_TRUE(subscribe(*events, a, receiver.url()));
    const auto big = append(a, "T-big");
    const auto flaky = append(a, "T-flaky");
    std::atomic<int> flaky_tries{0};
    receiver.answer([&](const RecordedRequest& r) -> unsigned {
        const auto id = change_id_of(r);
        if (id == big) return 413;
        if (id == flaky) return ++flaky_tries <= 2 ? 503 : 200;
        return 410;
    });
    start_delivery();
    ASSERT_TRUE(eventually([&] { return flaky_tries.load() >= 3; }));
    auto got = receiver.events();
    std::vector<std::int64_t> flaky_at;
    int big_posts = 0;
    for (const auto& r : got) {
        if (change_id_of(r) == big) ++big_posts;
        if (change_id_of(r) == flaky) flaky_at.push_back(std::stoll(r.headers.at("webhook-timestamp")));
    }
    EXPECT_EQ(big_posts, 1) << "413: that event is dropped, not retried";
    ASSERT_EQ(flaky_at.size(), 3u) << "503 twice, then delivered";
    const auto gone = append(a, "T-gone");   // answered 410
    ASSERT_TRUE(eventually([&] {
        auto e = receiver.events();
        return std::any_of(e.begin(), e.end(), [&](const RecordedRequest& r) { return change_id_of(r) == gone; });
    }));
    std::this_thread::sleep_for(200ms);
    append(a, "T-after");
    std::this_thread::sleep_for(400ms);
    auto after = receiver.events();
    EXPECT_EQ(change_id_of(after.back()), gone) << "410 dropped the subscription: nothing more is sent";
    auto due = h.on_storage([](storage::Storage& s) { return s.due_event_subscriptions(now_ms() + 3'600'000, 10); });
    ASSERT_TRUE(due);
    EXPECT_TRUE(due->empty());
}

TEST_F(ChangeFeed, RetriesBackOff) {
    auto events = make_change_events(deps());
    ASSERT_TRUE(subscribe(*events, a, receiver.url()));
    append(a, "T1");
    std::mutex mu;
    std::vector<std::chrono::steady_clock::time_point> at;
    receiver.answer([&](const RecordedRequest&) -> unsigned {
        std::lock_guard lock(mu);
        at.push_back(std::chrono::steady_clock::now());
        return 500;
    });
    start_delivery();
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mu);
        return at.size() >= 3;
    }));
    std::lock_guard lock(mu);
    EXPECT_GE(at[1] - at[0], 100ms) << "equal jitter: at least half of backoff_base";
    EXPECT_GE(at[2] - at[1], 150ms) << "doubling";
}

TEST_F(ChangeFeed, TwoWorkersDeliverEachEventOnce) {
    auto events = make_change_events(deps());
    ASSERT_TRUE(subscribe(*events, a, receiver.url()));
    start_delivery();
    start_delivery();
    ASSERT_TRUE(eventually([&] { return receiver.challenges() >= 1; }));
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(append(a, "T" + std::to_string(i)));
    ASSERT_TRUE(eventually([&] { return receiver.events().size() >= 20; }));
    std::this_thread::sleep_for(300ms);
    const auto got = receiver.events();
    ASSERT_EQ(got.size(), 20u) << "no duplicates";
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(change_id_of(got[i]), ids[i]);
    EXPECT_EQ(receiver.challenges(), 1);
}

// Two instances (PostgreSQL: two connections, storage threads and io_contexts) claim the subscription in the database:
// each event reaches the receiver once, in order, whichever instance sends it.
TEST_F(ChangeFeed, TwoInstancesOnOneDatabaseDeliverEachEventOnce) {
    if (!h.database().postgresql()) GTEST_SKIP() << "several instances share a PostgreSQL database";
    Harness::Options options;
    options.start_fake = false;
    options.share_database_of = &h;
    Harness other(options);
    auto events = make_change_events(deps());
    ASSERT_TRUE(subscribe(*events, a, receiver.url()));
    start_delivery();
    auto other_pool = make_event_pool(settings);
    EventDelivery on_other(other.storage(), settings, other_pool);
    on_other.start(other.io().get_executor());
    ASSERT_TRUE(eventually([&] { return receiver.challenges() >= 1; }));
    std::vector<std::string> ids;
    for (int i = 0; i < 30; ++i) {
        ids.push_back(append(a, "T" + std::to_string(i)));
        if (i % 3 == 0) on_other.wake();   // both instances scan while changes arrive
    }
    ASSERT_TRUE(eventually([&] { return receiver.events().size() >= 30; }));
    std::this_thread::sleep_for(300ms);
    const auto got = receiver.events();
    ASSERT_EQ(got.size(), 30u) << "no duplicates";
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(change_id_of(got[i]), ids[i]);
    EXPECT_EQ(receiver.challenges(), 1);
    on_other.stop();
    std::this_thread::sleep_for(100ms);
    other_pool->close_idle();
}

TEST_F(ChangeFeed, ACallbackToAnUnlistedLoopbackOriginIsRefusedBeforeAnyConnection) {
    Receiver stranger;   // not in allowed_callback_origins
    auto events = make_change_events(deps());
    auto refused = subscribe(*events, a, stranger.url());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message.rfind("callbackUrl:", 0), 0u) << refused.error().message;
    auto https_literal = subscribe(*events, a, "https://127.0.0.1:9/hook");
    ASSERT_FALSE(https_literal);
    EXPECT_NE(https_literal.error().message.find("not a public address"), std::string::npos);
    // A subscription stored anyway (as if its name had resolved publicly then): the pool checks every connection.
    storage::EventSubscription sub;
    sub.id = "es_strangerstranger";
    sub.tenant_id = a;
    sub.name = "crm.change";
    sub.callback_url = stranger.url();
    sub.expires_at_ms = now_ms() + 600'000;
    const std::string key = "0123456789abcdef01234567";
    ASSERT_TRUE(h.on_storage([sub, key](storage::Storage& s) {
        return s.put_event_subscription(
            sub, std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(key.data()), key.size()), now_ms());
    }));
    start_delivery();
    append(a, "T1");
    std::this_thread::sleep_for(600ms);
    EXPECT_EQ(stranger.connections(), 0);
    EXPECT_TRUE(stranger.events().empty());
}

}  // namespace
}  // namespace rollout_mcp::sync_test
