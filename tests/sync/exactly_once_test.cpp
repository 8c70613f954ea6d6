// Exactly once under real network faults: for every kind of write the adapters make (person, tags,
// appointment type, appointment, task, note), the fake Rollout applies the write and then breaks the
// exchange (reset, half-close, hang, truncated body), on a fresh and on a reused keep-alive connection.
// Whatever the client saw, the CRM ends with exactly one record: the pool never re-sends a write that may
// have reached the peer, and the next attempt looks the record up by its marker before creating.
#include "sync_harness.hpp"

#include "rollout/adapters/adapter.hpp"
#include "rollout/model.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using storage::JobStatus;
using Action = fake::FaultRule::Action;

struct WriteKind {
    const char* name;
    const char* method;
    const char* path_prefix;   // matched as a prefix by the fake
    const char* crm;           // hubspot has no appointments: visits become tasks
    const char* collection;    // where the record lands
    std::size_t expected;      // records of that kind after the sync
};

constexpr WriteKind kWrites[] = {
    {"person", "POST", "/crm/api/people", "highlevel", "people", 1},
    {"tags", "POST", "/crm/api/people/", "highlevel", "people", 1},
    {"appointment_type", "POST", "/crm/api/appointment-types", "highlevel", "appointment-types", 1},
    {"appointment", "POST", "/crm/api/appointments", "highlevel", "appointments", 2},
    {"task", "POST", "/crm/api/tasks", "hubspot", "tasks", 2},
    {"note", "POST", "/crm/api/notes", "lofty", "notes", 1},
};

constexpr std::pair<Action, const char*> kFaults[] = {
    {Action::reset_after_write, "reset"},
    {Action::half_close_after_write, "half_close"},
    {Action::timeout_after_write, "hang"},
    {Action::truncated_body, "truncated"},
};

std::vector<std::string> enqueue_feedback(Harness& h, const std::string& tenant, const json::object& feedback,
                                          const std::string& crm) {
    auto parsed = rollout::parse_feedback(feedback);
    if (!parsed) throw std::runtime_error(parsed.error().describe());
    storage::SyncRequest request;
    request.tenant_id = tenant;
    request.jobs.push_back({crm, "feedback", rollout::feedback_local_id(*parsed), parsed->tour_id,
                            rollout::buyer_local_id(parsed->buyer_id, parsed->tour_id), json::serialize(feedback)});
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    auto r = h.on_storage([request, now](storage::Storage& s) { return s.enqueue_sync(request, now); });
    if (!r) throw std::runtime_error(r.error().message);
    h.worker().wake();
    return r->job_ids;
}

class ExactlyOnce : public ::testing::TestWithParam<std::tuple<WriteKind, std::pair<Action, const char*>, bool>> {};

TEST_P(ExactlyOnce, AppliedWriteThenBrokenExchangeLeavesOneRecord) {
    const auto& [write, fault, reused] = GetParam();
    Harness::Options o;
    o.rollout_timeout = std::chrono::milliseconds(700);   // bounds the hang case
    Harness h(o);
    const std::string kind(write.name);
    const auto team = h.add_team("exactly-once", {write.crm});
    const auto& cred = h.credential(team, write.crm);
    auto tour = make_tour("T-" + kind, "b-" + kind, 2);
    if (kind == "tags")   // the buyer exists (same email) without our marker: the adapter tags it
        h.fake().put_record(cred, "people", json::object{{"firstName", "Buyer"}, {"lastName", "b-tags"},
                                                         {"emails", json::array{json::object{{"value", "b-tags@example.com"}}}},
                                                         {"tags", json::array{}}});
    if (kind == "appointment_type")   // no "Showing" type yet: the adapter creates one
        for (const auto& t : h.fake().records(cred, "appointment-types"))
            h.fake().remove_record(cred, "appointment-types", std::string(t.at("id").as_string()));

    fake::FaultRule rule;
    rule.method = write.method;
    rule.path_prefix = write.path_prefix;
    rule.reused_connection = reused;
    rule.action = fault.first;
    h.fake().add_fault(rule);
    if (!reused) {   // every other answer closes its connection, so the write goes out on a fresh one
        fake::FaultRule close;
        close.action = Action::close_after_reply;
        close.count = -1;
        h.fake().add_fault(close);
    }
    h.start();
    std::vector<std::string> ids;
    if (kind == "note") {
        ids = enqueue_feedback(h, team, json::object{{"propertyId", "P1"}, {"tourId", "T-note"}, {"buyerId", "b-note"},
                                                     {"feedback", "Loved the kitchen"}}, write.crm);
    } else {
        ids = h.enqueue_tour(team, tour, {write.crm});
    }
    const auto job = h.wait_finished(team, ids.at(0));
    EXPECT_EQ(job.status, JobStatus::succeeded) << job.last_error;
    EXPECT_GE(job.attempts, 2) << "the fault did not break an attempt";
    // The fault fired (its count is used up) and the CRM holds exactly the expected records.
    std::size_t armed = 0;
    const auto state = h.fake().state();
    for (const auto& f : state.at("faults").as_array())
        armed += f.at("action").as_string() != "close_after_reply" ? 1 : 0;
    EXPECT_EQ(armed, 0u) << "the fault never fired";
    EXPECT_EQ(h.fake().records(cred, write.collection).size(), write.expected) << write.collection;
    EXPECT_EQ(h.fake().records(cred, "people").size(), 1u) << "people";
    // No write was sent twice: count the POSTs to the faulted path that the fake applied.
    std::size_t posts = 0;
    for (const auto& r : h.fake().requests())
        if (r.method == write.method && r.path.rfind(write.path_prefix, 0) == 0 &&
            (kind != "person" || r.path == "/crm/api/people"))
            ++posts;
    EXPECT_EQ(posts, kind == "appointment" || kind == "task" ? 2u : 1u) << "writes sent";
}

INSTANTIATE_TEST_SUITE_P(EveryWriteKind, ExactlyOnce,
                         ::testing::Combine(::testing::ValuesIn(kWrites), ::testing::ValuesIn(kFaults),
                                            ::testing::Bool()),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param).second +
                                    (std::get<2>(info.param) ? "_reused" : "_fresh");
                         });

}  // namespace
}  // namespace rollout_mcp::sync_test
