// `rollout-mcp outbox list|retry|stats` (issue 4): the operator's view of the outbox and re-queuing.
#include "sync_harness.hpp"

#include "server/admin/admin_commands.hpp"
#include "storage/sql_storage.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace rollout_mcp::sync_test {
namespace {

struct CliRun {
    int code = 0;
    std::string out, err;
};

class OutboxCli : public ::testing::Test {
protected:
    OutboxCli() : h(options()) {}
    static Harness::Options options() {
        Harness::Options o;
        o.start_fake = false;
        return o;
    }
    CliRun run(AdminRequest r) {
        CliRun out;
        ::testing::internal::CaptureStdout();
        ::testing::internal::CaptureStderr();
        out.code = h.on_storage([&](storage::Storage& s) {
            return run_outbox_command(dynamic_cast<storage::SqlStorage&>(s), r);
        });
        out.out = ::testing::internal::GetCapturedStdout();
        out.err = ::testing::internal::GetCapturedStderr();
        return out;
    }
    static std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }
    Harness h;
};

TEST_F(OutboxCli, ListFiltersRetriesAndStats) {
    const auto team = h.add_team("cli-team");
    const auto other = h.add_team("cli-other");
    auto ok_ids = h.enqueue_tour(team, make_tour("T-ok", "b-ok"));
    auto bad_ids = h.enqueue_tour(team, make_tour("T-bad", "b-bad"));
    h.enqueue_tour(other, make_tour("T-other", "b-other"));
    ASSERT_TRUE(h.on_storage([&](storage::Storage& s) {
        auto claimed = s.claim_sync_jobs(bad_ids, INT64_MAX / 4, INT64_MAX / 2);
        storage::AttemptOutcome failed;
        failed.next = storage::AttemptOutcome::Next::fail;
        failed.error = "validation (HTTP 422): phone is not valid";
        failed.http_status = 422;
        return s.finish_sync_attempt(bad_ids[0], claimed->front().claim_token, failed, INT64_MAX / 4);
    }));

    AdminRequest list;
    list.command = "outbox list";
    list.json = true;
    auto all = run(list);
    EXPECT_EQ(all.code, 0);
    EXPECT_EQ(lines(all.out), 3u) << all.out;

    list.tenant = "cli-team";
    auto mine = run(list);
    EXPECT_EQ(lines(mine.out), 2u) << mine.out;
    EXPECT_EQ(mine.out.find("T-other"), std::string::npos);

    list.status = "failed";
    auto failed = run(list);
    ASSERT_EQ(lines(failed.out), 1u) << failed.out;
    EXPECT_NE(failed.out.find(bad_ids[0]), std::string::npos);
    EXPECT_NE(failed.out.find("phone is not valid"), std::string::npos);

    list.json = false;   // the table names the job, its status and the error
    auto table = run(list);
    EXPECT_NE(table.out.find(bad_ids[0] + "\t"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("\tfailed\tattempts=1"), std::string::npos) << table.out;

    AdminRequest retry;
    retry.command = "outbox retry";
    auto refused = run(retry);
    EXPECT_EQ(refused.code, 1);
    EXPECT_NE(refused.err.find("needs --job, --tour, --tenant or --status"), std::string::npos) << refused.err;
    retry.status = "queued";
    EXPECT_EQ(run(retry).code, 1);
    retry.status = "failed";
    auto requeued = run(retry);
    EXPECT_EQ(requeued.code, 0);
    EXPECT_NE(requeued.err.find("re-queued 1 job(s)"), std::string::npos) << requeued.err;
    EXPECT_EQ(h.job(team, bad_ids[0]).status, storage::JobStatus::queued);
    EXPECT_EQ(h.job(team, bad_ids[0]).attempts, 0);
    EXPECT_EQ(h.job(team, ok_ids[0]).status, storage::JobStatus::queued);

    AdminRequest stats;
    stats.command = "outbox stats";
    auto st = run(stats);
    EXPECT_EQ(st.code, 0);
    EXPECT_NE(st.out.find("queued=3"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("failed=0"), std::string::npos) << st.out;

    list.status = "bogus";
    auto bogus = run(list);
    EXPECT_EQ(bogus.code, 1);
    EXPECT_NE(bogus.err.find("--status must be"), std::string::npos) << bogus.err;
    list.status.clear();
    list.tenant = "no-such-team";
    EXPECT_EQ(run(list).code, 1);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
