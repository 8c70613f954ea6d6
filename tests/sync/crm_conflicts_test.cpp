// Per-field conflicts between the CRM and REanna (issue 20, README "Changes from the CRM"), end to end on the
// storage backend under test: a tour is synced to the fake CRM, the CRM's users edit a showing or the buyer's
// contact, the webhook is processed by the HookProcessor (the ledger's crm_state moves, its written_state does
// not), and REanna sends the tour again with other values: the fields the CRM's users changed keep their values,
// the rest take REanna's, and the job's result lists keptFromCrm. Without a CRM edit a re-send updates everything.
#include "server/sync/hook_processor.hpp"
#include "server/sync/sync_job_view.hpp"
#include "tests/sync/hook_server.hpp"
#include "tests/sync/sync_harness.hpp"

#include "rollout/crm_watch.hpp"
#include "support/http_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using fake::WebhookEvent;

class CrmConflicts : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto why = h.database().unavailable(); !why.empty()) GTEST_SKIP() << why;
        team = h.add_team("conflicts-a");
        cred = h.credential(team, "highlevel");
        h.start();
        ASSERT_EQ(sync(make_tour("T1", "B1", 2)).status, storage::JobStatus::succeeded);
        server.emplace(h.storage());
        auto route = h.on_storage([this](storage::Storage& s) { return s.issue_hook_route(team, "highlevel"); });
        ASSERT_TRUE(route) << route.error().message;
        for (const char* e : {"appointmentsUpdated", "peopleUpdated"}) subscribe(e, server->url(std::string(route->text())));
        HookProcessorSettings settings;
        settings.poll = 100ms;
        settings.backoff_base = 200ms;
        settings.backoff_max = 400ms;
        processor.emplace(h.storage(), h.team(), settings, [] {});
        processor->start(h.io().get_executor());
    }
    void TearDown() override {
        if (processor) processor->stop();
    }

    storage::SyncJobInfo sync(const json::object& tour) { return h.wait_finished(team, h.enqueue_tour(team, tour).at(0)); }
    test::CallOptions as_crm_user() {
        test::CallOptions o;
        o.headers = {{"Authorization", "Bearer " + h.fake().mint_jwt(team)},
                     {"X-Rollout-Credential-Id", cred},
                     {"Content-Type", "application/json"}};
        return o;
    }
    void subscribe(const std::string& event, const std::string& url) {
        const auto body = json::serialize(json::object{{"url", url}, {"event", event}, {"filters", json::object{}}});
        auto r = test::call(h.fake().port(), "POST", "/crm/api/webhooks", body, as_crm_user());
        if (r.status != 201) throw std::runtime_error("subscribe: " + std::to_string(r.status) + " " + r.body);
    }
    // An edit made in the CRM by its users, then Rollout's notification of it, processed.
    void crm_edit(const std::string& collection, const std::string& id, const json::object& patch,
                  const std::string& event) {
        auto r = test::call(h.fake().port(), "PUT", "/crm/api/" + collection + "/" + id, json::serialize(patch),
                            as_crm_user());
        ASSERT_EQ(r.status, 200) << r.body;
        auto sent = h.fake().deliver(cred, WebhookEvent{event, {id}, "", ""});
        ASSERT_FALSE(sent.empty()) << event;
        for (const auto& d : sent) ASSERT_EQ(d.status, 200u) << d.body;
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < deadline) {
            auto pending = h.on_storage([](storage::Storage& s) { return s.pending_hook_events(); });
            if (pending && *pending == 0) return;
            std::this_thread::sleep_for(20ms);
        }
        FAIL() << "the delivery is still pending after 20 s";
    }
    storage::LedgerEntry ledger(const std::string& kind, const std::string& local_id) {
        auto rows = h.on_storage([this, local_id](storage::Storage& s) {
            return s.sync_ledger(team, "highlevel", std::vector<std::string>{local_id});
        });
        if (rows)
            for (const auto& e : *rows)
                if (e.entity_kind == kind) return e;
        throw std::runtime_error("no ledger row for " + kind + " " + local_id);
    }
    json::object record(const std::string& collection, const std::string& id) {
        for (auto& r : h.fake().records(cred, collection))
            if (r.at("id").as_string() == id) return r;
        throw std::runtime_error("no " + collection + " record " + id);
    }
    static std::string text(const json::object& o, const char* key) {
        const auto* v = o.if_contains(key);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
    }

    Harness h;
    std::string team, cred;
    std::optional<HookServer> server;
    std::optional<HookProcessor> processor;
};

// The tour again: P1 at the same time at a new address with notes, P2 moved to 13:00.
json::object resent_tour() {
    auto tour = make_tour("T1", "B1", 2);
    auto& visits = tour.at("properties").as_array();
    visits[0].as_object()["address"] = "1 Main St (side door), Austin TX";
    visits[0].as_object()["notes"] = "Ring twice";
    visits[1].as_object()["visitTime"] = "2026-12-01T13:00:00-06:00";
    return tour;
}

TEST_F(CrmConflicts, AnAgentsRescheduleIsKeptAndTheRestTakesReannasValues) {
    const auto apt1 = ledger("appointment", "T1/P1").external_id, apt2 = ledger("appointment", "T1/P2").external_id;
    crm_edit("appointments", apt1, {{"startsAt", "2026-12-01T15:00:00-06:00"}, {"endsAt", "2026-12-01T15:30:00-06:00"}},
             "appointmentsUpdated");
    const auto moved = ledger("appointment", "T1/P1");
    EXPECT_EQ(rollout::fields_changed_in_crm("appointment", moved.written_state, moved.crm_state),
              (std::vector<std::string>{"startsAt", "endsAt"}));

    const auto job = sync(resent_tour());
    ASSERT_EQ(job.status, storage::JobStatus::succeeded) << job.last_error;
    const auto p1 = record("appointments", apt1);
    EXPECT_EQ(text(p1, "startsAt"), "2026-12-01T15:00:00-06:00");   // the agent's time, not REanna's 11:00
    EXPECT_EQ(text(p1, "endsAt"), "2026-12-01T15:30:00-06:00");
    EXPECT_NE(text(p1, "title").find("side door"), std::string::npos) << text(p1, "title");
    EXPECT_NE(text(p1, "description").find("Ring twice"), std::string::npos) << text(p1, "description");
    // P2 was not touched in the CRM: REanna's new time.
    EXPECT_EQ(text(record("appointments", apt2), "startsAt"), "2026-12-01T13:00:00-06:00");

    const auto view = job_json(job);
    ASSERT_TRUE(view.contains("keptFromCrm")) << json::serialize(view);
    EXPECT_EQ(view.at("keptFromCrm"), json::parse(R"([{"kind":"appointment","localId":"T1/P1",
                                                      "fields":["startsAt","endsAt"]}])"));
    for (const auto& r : view.at("records").as_array()) {
        if (r.at("localId").as_string() != "T1/P1") {
            EXPECT_FALSE(r.as_object().contains("keptFromCrm")) << json::serialize(r);
        }
    }
    // The agent's time stays the CRM's: what we wrote for it is still our earlier time, so it is kept again.
    const auto after = ledger("appointment", "T1/P1");
    EXPECT_NE(after.crm_state.find("15:00:00"), std::string::npos) << after.crm_state;
    EXPECT_EQ(rollout::fields_changed_in_crm("appointment", after.written_state, after.crm_state),
              (std::vector<std::string>{"startsAt", "endsAt"}));
    // A third send (REanna's time unchanged, a new note) does not undo the agent's reschedule either.
    auto third = resent_tour();
    third.at("properties").as_array()[0].as_object()["notes"] = "Ring twice, then call";
    const auto again = sync(third);
    ASSERT_EQ(again.status, storage::JobStatus::succeeded) << again.last_error;
    EXPECT_EQ(text(record("appointments", apt1), "startsAt"), "2026-12-01T15:00:00-06:00");
    EXPECT_EQ(job_json(again).at("keptFromCrm"), json::parse(R"([{"kind":"appointment","localId":"T1/P1",
                                                                "fields":["startsAt","endsAt"]}])"));
}

TEST_F(CrmConflicts, ABuyersNameEditedInTheCrmIsKept) {
    const auto person = ledger("person", "B1").external_id;
    crm_edit("people", person, {{"firstName", "Annie"}}, "peopleUpdated");
    auto tour = make_tour("T1", "B1", 2);
    tour["buyer"] = json::object{{"name", "Bob Jones"}, {"email", "B1@example.com"}, {"phone", "512-555-0100"}};
    const auto job = sync(tour);
    ASSERT_EQ(job.status, storage::JobStatus::succeeded) << job.last_error;
    const auto contact = record("people", person);
    EXPECT_EQ(text(contact, "firstName"), "Annie");
    EXPECT_EQ(text(contact, "lastName"), "Jones");   // not edited in the CRM: REanna's value
    EXPECT_NE(json::serialize(contact.at("phones")).find("555"), std::string::npos) << json::serialize(contact);
    EXPECT_EQ(job_json(job).at("keptFromCrm"),
              json::parse(R"([{"kind":"person","localId":"B1","fields":["firstName"]}])"));
}

TEST_F(CrmConflicts, WithoutCrmEditsAResendUpdatesEverything) {
    const auto apt1 = ledger("appointment", "T1/P1").external_id;
    auto tour = resent_tour();
    tour.at("properties").as_array()[0].as_object()["visitTime"] = "2026-12-01T09:00:00-06:00";
    const auto job = sync(tour);
    ASSERT_EQ(job.status, storage::JobStatus::succeeded) << job.last_error;
    const auto p1 = record("appointments", apt1);
    EXPECT_EQ(text(p1, "startsAt"), "2026-12-01T09:00:00-06:00");
    EXPECT_NE(text(p1, "title").find("side door"), std::string::npos);
    const auto view = job_json(job);
    EXPECT_FALSE(view.contains("keptFromCrm")) << json::serialize(view);
    for (const auto& r : view.at("records").as_array()) {
        EXPECT_FALSE(r.as_object().contains("keptFromCrm")) << json::serialize(r);
    }
}

}  // namespace
}  // namespace rollout_mcp::sync_test
