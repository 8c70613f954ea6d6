// Change latency (issue 20 "Proof": p99 <= 2 s): from the moment Rollout posts a webhook delivery to the moment the
// typed change is in the team's change log (readable by list_crm_changes and events/poll), through the real
// HttpServer + RolloutHookReceiver, HookProcessor and storage (SQLite; PostgreSQL with ROLLOUT_MCP_TEST_BACKEND=postgresql
// and ROLLOUT_MCP_TEST_PG_URL),
// against the fake Rollout answering every CRM read after a set latency. A synced tour's appointments are
// rescheduled one after another in the fake CRM, each followed by its delivery; the change log is polled every
// millisecond. Usage: bench_change_latency [events = 200] [crm_latency_ms = 50]
#include "server/sync/hook_processor.hpp"
#include "tests/sync/hook_server.hpp"
#include "tests/sync/sync_harness.hpp"

#include "support/http_client.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

using namespace rollout_mcp;
using namespace rollout_mcp::sync_test;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) try {
    const int events = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
    const int latency_ms = argc > 2 ? std::max(0, std::atoi(argv[2])) : 50;
    Harness h;
    const auto team = h.add_team("bench-changes");
    const auto cred = h.credential(team, "highlevel");
    h.start();
    constexpr int kVisits = 10;
    const auto job = h.enqueue_tour(team, make_tour("T1", "B1", kVisits)).at(0);
    if (h.wait_finished(team, job).status != storage::JobStatus::succeeded) throw std::runtime_error("the tour did not sync");
    auto visits = h.on_storage([&](storage::Storage& s) { return s.sync_ledger_visits(team, "highlevel", "T1"); });
    if (!visits || visits->size() != kVisits) throw std::runtime_error("the ledger has no visits");

    std::optional<HookProcessor> processor;   // woken by the receiver as `serve` wires them
    HookServer server(h.storage(), {}, {}, [&processor] {
        if (processor) processor->wake();
    });
    auto route = h.on_storage([&](storage::Storage& s) { return s.issue_hook_route(team, "highlevel"); });
    if (!route) throw std::runtime_error(route.error().message);
    test::CallOptions crm_user;
    crm_user.headers = {{"Authorization", "Bearer " + h.fake().mint_jwt(team)}, {"X-Rollout-Credential-Id", cred},
                        {"Content-Type", "application/json"}};
    const auto subscription = json::serialize(json::object{
        {"url", server.url(std::string(route->text()))}, {"event", "appointmentsUpdated"}, {"filters", json::object{}}});
    if (test::call(h.fake().port(), "POST", "/crm/api/webhooks", subscription, crm_user).status != 201)
        throw std::runtime_error("cannot subscribe");
    processor.emplace(h.storage(), h.team(), HookProcessorSettings{}, [] {});
    processor->start(h.io().get_executor());
    fake::FaultRule slow;   // the CRM behind Rollout: every read takes this long
    slow.method = "GET";
    slow.action = fake::FaultRule::Action::latency;
    slow.latency = std::chrono::milliseconds(latency_ms);
    slow.count = -1;
    h.fake().add_fault(slow);

    std::vector<double> ms;
    for (int i = 0; i < events; ++i) {
        const auto& apt = (*visits)[static_cast<std::size_t>(i % kVisits)].external_id;
        char starts[40];
        std::snprintf(starts, sizeof starts, "2027-01-%02dT%02d:%02d:00Z", 1 + i / 1440 % 28, i / 60 % 24, i % 60);
        const auto edit = json::serialize(json::object{{"startsAt", starts}});
        if (test::call(h.fake().port(), "PUT", "/crm/api/appointments/" + apt, edit, crm_user).status != 200)
            throw std::runtime_error("cannot edit the appointment");
        const auto sent = Clock::now();
        const auto answers = h.fake().deliver(cred, fake::WebhookEvent{"appointmentsUpdated", {apt}, "", ""});
        if (answers.empty() || answers[0].status != 200) throw std::runtime_error("the delivery was refused");
        for (;;) {
            auto page = h.on_storage([&](storage::Storage& s) { return s.list_crm_changes(team, std::nullopt, 1000); });
            if (page && page->head >= i + 1) break;
            if (Clock::now() - sent > std::chrono::seconds(20)) throw std::runtime_error("no change after 20 s");
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
    }
    processor->stop();
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
    std::printf("change latency (delivery -> change log), %d events, CRM read latency %d ms, %s:\n", events, latency_ms,
                test::testing_postgresql() ? "PostgreSQL" : "SQLite");
    std::printf("  p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms  (target p99 <= 2000 ms: %s)\n", at(0.5), at(0.9),
                at(0.99), ms.back(), at(0.99) <= 2000 ? "met" : "MISSED");
    return at(0.99) <= 2000 ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_change_latency: %s\n", e.what());
    return 2;
}
