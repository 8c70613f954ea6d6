// The sync tools end to end over the real store and the fake Rollout (handlers called directly, no HTTP):
// unknown fields are reported in ignoredFields and never stored, the per-team queue cap answers a
// retryable error naming its setting, and a job id purged by retention answers "expired" to its own team
// only. Also the worker's retention pass over a large backlog of failed jobs.
#include "sync_harness.hpp"
#include "support/wait_for.hpp"

#include "server/tools/rollout_tools.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <limits>

namespace rollout_mcp::sync_test {
namespace {
namespace asio = boost::asio;
namespace json = boost::json;

class SyncTools : public ::testing::Test {
protected:
    SyncTools() {
        SyncToolsDeps deps{&h.team(), &h.worker(), std::chrono::milliseconds(0)};
        register_sync_tools(tools, deps);
        register_sync_status_tools(tools, deps);
        register_config_tools(tools, h.team());
    }

    ToolResult call(const std::string& tenant, const std::string& tool, const std::string& args_text) {
        return call_tool(h, tools, tenant, tool, json::parse(args_text).as_object());
    }

    static std::string text_of(const ToolResult& r) { return std::string(r.at("content").at(0).at("text").as_string()); }
    static const json::object& sc(const ToolResult& r) { return r.at("structuredContent").as_object(); }
    static bool is_error(const ToolResult& r) { return r.contains("isError") && r.at("isError").as_bool(); }
    // Later than any job the tools just queued (they use the wall clock).
    static std::int64_t soon_ms() {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   (std::chrono::system_clock::now() + std::chrono::minutes(1)).time_since_epoch()).count();
    }

    Harness h;   // the worker is not started: jobs stay queued where the tests can read them
    ToolRegistry tools;
};

constexpr const char* kTourWithExtras = R"({"wait":false,"tourData":{"tourId":"T-1","agentId":"A-1","mood":"sunny",
    "buyer":{"name":"Ann","email":"ann@example.com","shoeSize":9},
    "properties":[{"propertyId":"P-1","address":"1 Main St","visitTime":"2026-03-01T10:00:00Z","color":"red"}]}})";

TEST_F(SyncTools, UnknownFieldsAreListedAndNeverStored) {
    const auto team = h.add_team("acme", {"highlevel", "lofty"});
    const auto r = call(team, "sync_tour_data", kTourWithExtras);
    ASSERT_FALSE(is_error(r)) << text_of(r);
    EXPECT_EQ(sc(r).at("ignoredFields"),
              json::parse(R"(["tourData.mood","tourData.buyer.shoeSize","tourData.properties[0].color"])"));
    EXPECT_NE(text_of(r).find("tourData.properties[0].color"), std::string::npos) << text_of(r);
    const auto& results = sc(r).at("results").as_array();
    ASSERT_EQ(results.size(), 2u);
    std::vector<std::string> ids;
    for (const auto& j : results) ids.emplace_back(j.at("jobId").as_string());
    const auto now = soon_ms();
    auto claimed = h.on_storage([ids, now](storage::Storage& s) { return s.claim_sync_jobs(ids, now, now + 1); });
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 2u);
    for (const auto& c : *claimed) {
        const std::string payload(c.payload.text());
        for (const char* gone : {"mood", "sunny", "shoeSize", "color", "red"})
            EXPECT_EQ(payload.find(gone), std::string::npos) << payload;
        EXPECT_EQ(json::parse(payload).at("buyer").at("email"), "ann@example.com");
    }
    // A call without unknown fields has no ignoredFields.
    const auto clean = call(team, "sync_feedback_data",
                            R"({"wait":false,"feedbackData":{"propertyId":"P-1","tourId":"T-1","feedback":"ok"}})");
    ASSERT_FALSE(is_error(clean)) << text_of(clean);
    EXPECT_FALSE(sc(clean).contains("ignoredFields"));
}

TEST_F(SyncTools, QueueCapAnswersARetryableError) {
    const auto team = h.add_team("acme", {"highlevel", "lofty"});
    h.on_storage([](storage::Storage& s) {
        storage::StorageLimits limits;
        limits.max_queued_jobs_per_tenant = 3;
        s.set_limits(limits);
        return 0;
    });
    ASSERT_FALSE(is_error(call(team, "sync_tour_data", kTourWithExtras)));
    const auto r = call(team, "sync_tour_data", kTourWithExtras);
    ASSERT_TRUE(is_error(r));
    EXPECT_EQ(sc(r).at("retryable"), true);
    const std::string message(sc(r).at("message").as_string());
    EXPECT_NE(message.find("[sync] max_queued_per_team"), std::string::npos) << message;
    EXPECT_NE(message.find("retry later"), std::string::npos) << message;
}

// The CRM-connection cap lives in the store; configure_crm_connection shows its message unchanged.
TEST_F(SyncTools, CrmConnectionCapShowsThroughConfigureCrmConnection) {
    const auto team = h.add_team("acme", {"highlevel"});
    h.on_storage([](storage::Storage& s) {
        storage::StorageLimits limits;
        limits.max_crm_connections_per_tenant = 1;
        s.set_limits(limits);
        return 0;
    });
    const std::string cred(h.fake().add_credential("lofty", team).at("id").as_string());
    const auto r = call(team, "configure_crm_connection", R"({"crmType":"lofty","credentialKey":")" + cred + R"("})");
    ASSERT_TRUE(is_error(r)) << text_of(r);
    const std::string message(sc(r).at("message").as_string());
    EXPECT_EQ(message.rfind("could not store the connection: ", 0), 0u) << message;
    EXPECT_NE(message.find("[rollout] max_crm_connections_per_team"), std::string::npos) << message;
    // Re-configuring the connected CRM is no new connection.
    const auto again = call(team, "configure_crm_connection",
                            R"({"crmType":"highlevel","credentialKey":")" + h.credential(team, "highlevel") + R"("})");
    EXPECT_FALSE(is_error(again)) << text_of(again);
}

TEST_F(SyncTools, PurgedJobIsExpiredForItsOwnTeamOnly) {
    const auto a = h.add_team("team-a");
    const auto b = h.add_team("team-b");
    const auto r = call(a, "sync_tour_data", kTourWithExtras);
    ASSERT_FALSE(is_error(r)) << text_of(r);
    const std::string id(sc(r).at("results").at(0).at("jobId").as_string());
    const auto now = soon_ms();
    auto purged = h.on_storage([id, now](storage::Storage& s) -> Result<storage::PurgeProgress> {
        auto c = s.claim_sync_jobs({id}, now, now + 1);
        if (!c || c->size() != 1)
            return Error{storage::ErrorCode::not_found, "not claimed"};
        storage::AttemptOutcome fail;
        fail.next = storage::AttemptOutcome::Next::fail;
        fail.error = "refused";
        if (auto f = s.finish_sync_attempt(id, c->front().claim_token, fail, now); !f) return f.error();
        storage::PurgePolicy policy;
        policy.failed_before_ms = std::numeric_limits<std::int64_t>::max();
        return s.purge_sync_batch(policy, now, 500);
    });
    ASSERT_TRUE(purged) << purged.error().message;
    ASSERT_EQ(purged->jobs, 1u);

    const auto mine = call(a, "get_sync_status", R"({"jobId":")" + id + R"("})");
    ASSERT_FALSE(is_error(mine)) << text_of(mine);
    EXPECT_EQ(sc(mine).at("jobs").at(0).at("status"), "expired");
    EXPECT_EQ(sc(mine).at("jobs").at(0).at("jobId").as_string(), id);
    EXPECT_NE(text_of(mine).find("expired"), std::string::npos);

    // Team b learns nothing: the answer is the unknown-id answer with the id swapped.
    const std::string unknown = "job_000000000000000000000000";
    const auto theirs = call(b, "get_sync_status", R"({"jobId":")" + id + R"("})");
    const auto never = call(b, "get_sync_status", R"({"jobId":")" + unknown + R"("})");
    ASSERT_TRUE(is_error(theirs));
    std::string expected = json::serialize(never);
    for (auto at = expected.find(unknown); at != std::string::npos; at = expected.find(unknown)) expected.replace(at, unknown.size(), id);
    EXPECT_EQ(json::serialize(theirs), expected);
}

// The worker purges old failed jobs in batches on its own (the first pass runs at start), leaving tombstones.
TEST(SyncRetention, WorkerPurgesFailedJobsInBatches) {
    Harness::Options options;
    options.start_fake = false;
    options.sync.keep_failed = std::chrono::seconds(0);
    Harness h(options);
    const auto team = h.add_team("acme");
    std::vector<std::string> ids;
    for (int call = 0; call < 10; ++call) {
        storage::SyncRequest request;
        request.tenant_id = team;
        for (int i = 0; i < 60; ++i)
            // One tour and buyer per call: jobs of one tour in one CRM are never claimed together.
            request.jobs.push_back({"crm-" + std::to_string(i), "tour", "T" + std::to_string(call),
                                    "T" + std::to_string(call), "B" + std::to_string(call), ""});
        request.payload_json = R"({"tourId":"T"})";
        auto r = h.on_storage([request](storage::Storage& s) { return s.enqueue_sync(request, 1'000); });
        ASSERT_TRUE(r) << r.error().message;
        ids.insert(ids.end(), r->job_ids.begin(), r->job_ids.end());
    }
    auto failed = h.on_storage([ids](storage::Storage& s) -> std::size_t {
        std::size_t n = 0;
        auto claimed = s.claim_sync_jobs(ids, 1'000, 60'000);
        if (!claimed) return 0;
        storage::AttemptOutcome fail;
        fail.next = storage::AttemptOutcome::Next::fail;
        fail.error = "refused";
        for (const auto& c : *claimed) n += s.finish_sync_attempt(c.info.id, c.claim_token, fail, 2'000) ? 1 : 0;
        return n;
    });
    ASSERT_EQ(failed, 600u);
    h.start();
    std::size_t left = ids.size();
    const bool purged = test::wait_for(
        [&] {
            auto jobs = h.on_storage([team](storage::Storage& s) {
                storage::SyncJobQuery q;
                q.tenant_id = team;
                q.limit = 1000;
                return s.find_sync_jobs(q);
            });
            left = jobs ? jobs->size() : left;
            return jobs && left == 0;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(50));
    EXPECT_TRUE(purged);
    EXPECT_EQ(left, 0u);
    for (const auto& id : {ids.front(), ids.back()}) {
        auto tomb = h.on_storage([team, id](storage::Storage& s) { return s.find_sync_job_tombstone(team, id); });
        EXPECT_TRUE(tomb) << id;
    }
}

}  // namespace
}  // namespace rollout_mcp::sync_test
