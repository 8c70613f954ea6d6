// CRM changes coming back (issue 20), end to end on the storage backend under test: a tour is synced to the fake
// CRM; the fake's users then reschedule, cancel, complete and annotate it, and the fake sends Rollout's signed
// thin notifications to the real HttpServer + RolloutHookReceiver; the HookProcessor fetches the records by id,
// maps them through the ledger and records typed changes. Our own writes echoed back, records we never synced,
// another team's route, a fetch failing with 503 and a claim abandoned by a crashed instance are all tried.
#include "server/sync/hook_mapping.hpp"
#include "server/sync/hook_processor.hpp"
#include "tests/sync/hook_server.hpp"
#include "tests/sync/sync_harness.hpp"

#include "support/http_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using fake::WebhookEvent;

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class HookProcessing : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto why = h.database().unavailable(); !why.empty()) GTEST_SKIP() << why;
        team = h.add_team("changes-a");
        cred = h.credential(team, "highlevel");
        h.start();
        ASSERT_EQ(h.wait_finished(team, h.enqueue_tour(team, make_tour("T1", "B1", 2)).at(0)).status,
                  storage::JobStatus::succeeded);
        server.emplace(h.storage());
        route = issue(team);
        for (const char* e : {"appointmentsCreated", "appointmentsUpdated", "appointmentsDeleted", "peopleCreated",
                              "peopleUpdated", "notesCreated", "tasksUpdated"})
            subscribe(team, cred, e, server->url(route));
        restart();
    }
    // (Re)starts the processor with `settings`.
    void restart() {
        if (processor) processor->stop();
        processor.reset();
        processor.emplace(h.storage(), h.team(), settings, [this] { ++wakes; });
        processor->start(h.io().get_executor());
    }
    void TearDown() override {
        if (processor) processor->stop();
    }

    std::string issue(const std::string& tenant) {
        auto r = h.on_storage([tenant](storage::Storage& s) { return s.issue_hook_route(tenant, "highlevel"); });
        if (!r) throw std::runtime_error(r.error().message);
        return std::string(r->text());
    }
    test::CallOptions as_crm_user(const std::string& tenant, const std::string& credential) {
        test::CallOptions o;
        o.headers = {{"Authorization", "Bearer " + h.fake().mint_jwt(tenant)},
                     {"X-Rollout-Credential-Id", credential},
                     {"Content-Type", "application/json"}};
        return o;
    }
    void subscribe(const std::string& tenant, const std::string& credential, const std::string& event,
                   const std::string& url) {
        const auto body = json::serialize(json::object{{"url", url}, {"event", event}, {"filters", json::object{}}});
        auto r = test::call(h.fake().port(), "POST", "/crm/api/webhooks", body, as_crm_user(tenant, credential));
        if (r.status != 201) throw std::runtime_error("subscribe: " + std::to_string(r.status) + " " + r.body);
    }
    // An edit made in the CRM by its users (not through rollout-mcp).
    json::object crm_edit(const std::string& collection, const std::string& id, const json::object& patch) {
        auto r = test::call(h.fake().port(), "PUT", "/crm/api/" + collection + "/" + id, json::serialize(patch),
                            as_crm_user(team, cred));
        if (r.status != 200) throw std::runtime_error("edit: " + std::to_string(r.status) + " " + r.body);
        return json::parse(r.body).as_object();
    }
    json::object crm_create(const std::string& collection, const json::object& record) {
        auto r = test::call(h.fake().port(), "POST", "/crm/api/" + collection, json::serialize(record),
                            as_crm_user(team, cred));
        if (r.status != 201) throw std::runtime_error("create: " + std::to_string(r.status) + " " + r.body);
        return json::parse(r.body).as_object();
    }
    void deliver(const std::string& event, std::vector<std::string> ids) {
        auto sent = h.fake().deliver(cred, WebhookEvent{event, std::move(ids), "", ""});
        ASSERT_FALSE(sent.empty()) << event;
        for (const auto& d : sent) ASSERT_EQ(d.status, 200u) << d.body;
    }
    std::string ledger_id(const std::string& kind, const std::string& local_id) {
        auto rows = h.on_storage([this, local_id](storage::Storage& s) {
            return s.sync_ledger(team, "highlevel", std::vector<std::string>{local_id});
        });
        if (rows)
            for (const auto& e : *rows)
                if (e.entity_kind == kind) return e.external_id;
        throw std::runtime_error("no ledger row for " + kind + " " + local_id);
    }
    std::vector<storage::CrmChange> changes(const std::string& tenant) {
        auto page = h.on_storage([tenant](storage::Storage& s) { return s.list_crm_changes(tenant, std::nullopt, 100); });
        if (!page) throw std::runtime_error(page.error().message);
        return page->changes;
    }
    // Waits (20 s at most) until every stored delivery is processed; returns the team's changes then.
    std::vector<storage::CrmChange> settled() {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < deadline) {
            auto pending = h.on_storage([](storage::Storage& s) { return s.pending_hook_events(); });
            if (pending && *pending == 0) return changes(team);
            std::this_thread::sleep_for(20ms);
        }
        ADD_FAILURE() << "deliveries still pending after 20 s";
        return changes(team);
    }

    Harness h;
    HookProcessorSettings settings = [] {
        HookProcessorSettings s;
        s.poll = 100ms;
        s.backoff_base = 200ms;
        s.backoff_max = 400ms;
        return s;
    }();
    std::string team, cred, route;
    std::optional<HookServer> server;
    std::optional<HookProcessor> processor;
    std::atomic<int> wakes{0};
};

TEST_F(HookProcessing, OurOwnWritesEchoedBackAreNotChanges) {
    const auto person = ledger_id("person", "B1");
    deliver("peopleCreated", {person});
    deliver("appointmentsCreated", {ledger_id("appointment", "T1/P1"), ledger_id("appointment", "T1/P2")});
    deliver("peopleUpdated", {person});
    EXPECT_TRUE(settled().empty());
    EXPECT_EQ(wakes.load(), 0);
}

TEST_F(HookProcessing, ARescheduleACancellationAndANoteBecomeTypedChangesInOrder) {
    const auto apt1 = ledger_id("appointment", "T1/P1"), apt2 = ledger_id("appointment", "T1/P2");
    const auto started = std::chrono::steady_clock::now();
    crm_edit("appointments", apt1, {{"startsAt", "2026-12-02T15:00:00-06:00"}, {"endsAt", "2026-12-02T15:30:00-06:00"}});
    deliver("appointmentsUpdated", {apt1});
    crm_edit("appointments", apt2, {{"status", "cancelled"}});
    deliver("appointmentsUpdated", {apt2});
    const auto note = crm_create("notes", {{"personId", ledger_id("person", "B1")}, {"subject", "Call back"},
                                           {"body", "Buyer loved the kitchen"}});
    deliver("notesCreated", {std::string(note.at("id").as_string())});
    const auto got = settled();
    std::printf("[ changes ] 3 changes recorded %.0f ms after the first CRM edit\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].kind, "showing_rescheduled");
    EXPECT_EQ(got[0].tour_id, "T1");
    EXPECT_EQ(got[0].visit_id, "T1/P1");
    EXPECT_EQ(got[0].record_id, apt1);
    const auto fields = json::parse(got[0].fields_json).as_object();
    EXPECT_EQ(fields.at("startsAt").as_string(), "2026-12-02T15:00:00-06:00");
    EXPECT_TRUE(fields.contains("previousStartsAt")) << got[0].fields_json;
    EXPECT_EQ(got[1].kind, "showing_cancelled");
    EXPECT_EQ(got[1].visit_id, "T1/P2");
    EXPECT_EQ(got[2].kind, "agent_note_added");
    EXPECT_EQ(got[2].buyer_id, "B1");
    EXPECT_NE(got[2].fields_json.find("loved the kitchen"), std::string::npos);
    for (const auto& c : got) EXPECT_EQ(c.credential_ref.find(cred), std::string::npos) << "the credential id leaked";
    EXPECT_GE(wakes.load(), 1);
    // The same notification again (a new eventId: Rollout re-sent it) finds nothing new: no second change.
    deliver("appointmentsUpdated", {apt1});
    EXPECT_EQ(settled().size(), 3u);
    // The payload's uri was never followed: every GET named one record of a known collection.
    for (const auto& r : h.fake().requests())
        if (r.method == "GET") {
            EXPECT_EQ(r.target.find("ids="), std::string::npos) << r.target;
        }
}

TEST_F(HookProcessing, RecordsWeNeverSyncedAndOtherTeamsAreIgnored) {
    const auto stranger = h.fake().put_record(cred, "appointments", {{"title", "Someone else's showing"},
                                                                     {"startsAt", "2026-12-03T10:00:00Z"}});
    const auto id = std::string(stranger.at("id").as_string());
    crm_edit("appointments", id, {{"startsAt", "2026-12-04T10:00:00Z"}});
    deliver("appointmentsUpdated", {id, "no-such-record"});
    const auto somebody = crm_create("people", {{"firstName", "Somebody"}, {"lastName", "Else"}});
    const auto note = crm_create("notes", {{"personId", somebody.at("id")}, {"body", "not ours"}});
    deliver("peopleUpdated", {std::string(somebody.at("id").as_string())});
    deliver("notesCreated", {std::string(note.at("id").as_string())});
    EXPECT_TRUE(settled().empty());
    // Another team on the same server, its own route: it sees nothing of team A's changes and vice versa.
    const auto other = h.add_team("changes-b");
    crm_edit("appointments", ledger_id("appointment", "T1/P1"), {{"startsAt", "2026-12-05T09:00:00-06:00"}});
    deliver("appointmentsUpdated", {ledger_id("appointment", "T1/P1")});
    EXPECT_EQ(settled().size(), 1u);
    EXPECT_TRUE(changes(other).empty());
}

TEST_F(HookProcessing, AFailedFetchIsRetriedAndTheChangeRecordedOnce) {
    const auto apt1 = ledger_id("appointment", "T1/P1");
    fake::FaultRule fault;
    fault.method = "GET";
    fault.path_prefix = "/crm/api/appointments/";
    fault.action = fake::FaultRule::Action::status;
    fault.status = 503;
    fault.content_type = "text/html";
    fault.body = "<html>Service Unavailable</html>";
    fault.count = 2;
    h.fake().add_fault(fault);
    crm_edit("appointments", apt1, {{"status", "completed"}});
    deliver("appointmentsUpdated", {apt1});
    const auto got = settled();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, "showing_completed");
}

TEST_F(HookProcessing, ADeliveryClaimedByACrashedInstanceIsProcessedAfterItsLease) {
    processor->stop();
    processor.reset();
    const auto apt1 = ledger_id("appointment", "T1/P1");
    crm_edit("appointments", apt1, {{"startsAt", "2026-12-06T09:00:00-06:00"}});
    deliver("appointmentsUpdated", {apt1});
    // Another instance claimed it and died before finishing (the claim is never released).
    auto claimed = h.on_storage([](storage::Storage& s) { return s.claim_hook_events(wall_ms(), 500, 10); });
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 1u);
    HookProcessorSettings settings;
    settings.poll = 100ms;
    processor.emplace(h.storage(), h.team(), settings, [] {});
    processor->start(h.io().get_executor());
    const auto got = settled();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, "showing_rescheduled");
    // The dead instance's late finish changes nothing.
    storage::HookEventResult late;
    late.changes.push_back(got[0]);
    const auto token = claimed->front().claim_token;
    const auto id = claimed->front().row.id;
    auto finished = h.on_storage([&](storage::Storage& s) { return s.finish_hook_event(id, token, late, wall_ms()); });
    ASSERT_TRUE(finished);
    EXPECT_EQ(finished->status, storage::FinishedHookEvent::Status::claim_lost);
    EXPECT_EQ(changes(team).size(), 1u);
}

TEST_F(HookProcessing, ADeletionIsReportedOnceHoweverItArrives) {
    const auto apt2 = ledger_id("appointment", "T1/P2");
    ASSERT_TRUE(h.fake().remove_record(cred, "appointments", apt2));
    deliver("appointmentsUpdated", {apt2});   // the GET answers 404
    deliver("appointmentsDeleted", {apt2});
    deliver("appointmentsDeleted", {apt2});   // Rollout re-sent it under a new eventId
    const auto got = settled();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, "showing_cancelled");
    EXPECT_EQ(got[0].visit_id, "T1/P2");
}

TEST_F(HookProcessing, AnotherTeamsRouteNamingThisTeamsRecordsFindsNothing) {
    const auto other = h.add_team("changes-b");
    const auto other_cred = h.credential(other, "highlevel");
    subscribe(other, other_cred, "appointmentsUpdated", server->url(issue(other)));
    const auto apt1 = ledger_id("appointment", "T1/P1");
    crm_edit("appointments", apt1, {{"startsAt", "2026-12-09T09:00:00-06:00"}});
    for (const auto& d : h.fake().deliver(other_cred, WebhookEvent{"appointmentsUpdated", {apt1}, "", ""}))
        EXPECT_EQ(d.status, 200u);
    EXPECT_TRUE(settled().empty());
    EXPECT_TRUE(changes(other).empty());
    for (const auto& r : h.fake().requests())
        if (r.method == "GET") {
            EXPECT_NE(r.credential_id, other_cred) << "team B's route read a record: " << r.target;
        }
}

TEST_F(HookProcessing, ADeliveryStillFailingIsGivenUpWithItsNonAsciiErrorStoredAndTheTeamGoesOn) {
    settings.max_attempts = 2;
    restart();
    const auto apt1 = ledger_id("appointment", "T1/P1"), apt2 = ledger_id("appointment", "T1/P2");
    fake::FaultRule fault;
    fault.method = "GET";
    fault.path_prefix = "/crm/api/appointments/" + apt1;
    fault.action = fake::FaultRule::Action::status;
    fault.status = 503;
    fault.body = R"({"errorMessage":")" + std::string(150, 'x') + "\u00e9\u00e9\u00e9\u00e9 indisponible\"}";
    fault.count = -1;
    h.fake().add_fault(fault);
    crm_edit("appointments", apt1, {{"status", "cancelled"}});
    deliver("appointmentsUpdated", {apt1});
    crm_edit("appointments", apt2, {{"status", "cancelled"}});
    deliver("appointmentsUpdated", {apt2});
    const auto got = settled();   // the first is given up, the second (after it) still recorded
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].record_id, apt2);
}

TEST(HookMapping, RecordsGroupUnderTheBuyerAndSecretsAndBrokenUtf8StayOut) {
    using namespace hook_mapping;
    const std::vector<storage::LedgerEntry> rows{{"person", "tour-T1", "P9", {}, R"({"firstName":"Tour"})"},
                                                 {"person", "B1", "P9", {}, R"({"firstName":"Ann"})"},
                                                 {"person", "B2", "P8", {}, ""}};
    const auto groups = group_by_record(rows);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].local_id, "B1");
    EXPECT_EQ(groups[0].state, R"({"firstName":"Ann"})");
    EXPECT_EQ(groups[0].rows.size(), 2u);
    EXPECT_EQ(scrub("id cred-123 at https://x/hooks/rollout/R, cred-123", {"cred-123", "", "R,"}),
              "id [redacted] at https://x/hooks/rollout/[redacted] [redacted]");
    EXPECT_EQ(utf8_prefix("ab\xc3\xa9", 3), "ab");
    EXPECT_EQ(utf8_prefix("ab\xc3\xa9", 4), "ab\xc3\xa9");
    EXPECT_FALSE(entity_event("peopleTagsCreated"));
    EXPECT_FALSE(entity_event("deals Updated"));
    EXPECT_EQ(entity_event("tasksDeleted")->kind, "task");
    EXPECT_EQ(resource_ids(R"(["a","a",7,"",{"x":1}])"), (std::vector<std::string>{"a", "7"}));
}

}  // namespace
}  // namespace rollout_mcp::sync_test
