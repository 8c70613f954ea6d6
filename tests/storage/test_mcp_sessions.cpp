// 2025 MCP sessions shared by instances (storage/mcp_sessions.hpp), on both engines: only the id's hash is stored,
// every call is scoped to the session's tenant (another team's id is not_found, like an unknown one), touches only
// move forward, the idle sweep re-checks each row, and deletions are announced to the other instances.
#include "storage/postgres_listener.hpp"
#include "tests/storage/storage_fixture.hpp"

#include <condition_variable>
#include <mutex>

namespace rollout_mcp::storage::test {
namespace {

class McpSessions : public TwoTeamsTest {
protected:
    McpSessionRecord record(const Tenant& t, std::int64_t now_ms) {
        return McpSessionRecord{t.id, "2025-06-18", "info", now_ms, now_ms};
    }
    std::int64_t rows() {
        auto db = raw();
        auto st = db->prepare("SELECT count(*) FROM mcp_sessions");
        return st.step() ? st.int64(0) : -1;
    }
    const std::string id = "0123456789abcdef0123456789abcdef";
};

TEST_F(McpSessions, CreateFindTouchLevelDeleteScopedToTheTenant) {
    ASSERT_TRUE(store->create_mcp_session(id, record(a, 1'000)));
    EXPECT_EQ(store->create_mcp_session(id, record(a, 1'000)).error().code, ErrorCode::already_exists);
    EXPECT_EQ(store->create_mcp_session(id, record(b, 1'000)).error().code, ErrorCode::already_exists);
    EXPECT_EQ(store->create_mcp_session("other", McpSessionRecord{"t_nobody", "2025-06-18", "info", 1, 1}).error().code,
              ErrorCode::not_found);
    auto found = store->find_mcp_session(id, a.id, 0);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found->tenant_id, a.id);
    EXPECT_EQ(found->revision, "2025-06-18");
    EXPECT_EQ(found->log_level, "info");
    EXPECT_EQ(found->created_at_ms, 1'000);
    // Another team, an unknown id, a near miss: the same answer.
    EXPECT_EQ(store->find_mcp_session(id, b.id, 0).error().code, ErrorCode::not_found);
    EXPECT_EQ(store->find_mcp_session("0123456789abcdef0123456789abcdee", a.id, 0).error().code, ErrorCode::not_found);
    EXPECT_EQ(store->find_mcp_session("", a.id, 0).error().code, ErrorCode::not_found);
    EXPECT_EQ(store->find_mcp_session(std::string(4096, 'x'), a.id, 0).error().code, ErrorCode::not_found);
    // Another team cannot touch, relevel or delete it.
    EXPECT_EQ(store->touch_mcp_session(id, b.id, 9'000).error().code, ErrorCode::not_found);
    EXPECT_EQ(store->set_mcp_session_log_level(id, b.id, "debug").error().code, ErrorCode::not_found);
    EXPECT_EQ(store->delete_mcp_session(id, b.id).error().code, ErrorCode::not_found);
    // Touches move forward only; a row last active before active_after is expired.
    ASSERT_TRUE(store->touch_mcp_session(id, a.id, 5'000));
    ASSERT_TRUE(store->touch_mcp_session(id, a.id, 3'000));
    EXPECT_EQ(store->find_mcp_session(id, a.id, 0)->last_active_ms, 5'000);
    EXPECT_TRUE(store->find_mcp_session(id, a.id, 5'000));
    EXPECT_EQ(store->find_mcp_session(id, a.id, 5'001).error().code, ErrorCode::not_found);
    ASSERT_TRUE(store->set_mcp_session_log_level(id, a.id, "warning"));
    EXPECT_EQ(store->find_mcp_session(id, a.id, 0)->log_level, "warning");
    EXPECT_EQ(store->set_mcp_session_log_level(id, a.id, "").error().code, ErrorCode::invalid_argument);
    // Another instance (a second connection) sees the same row, and its delete ends it for everyone.
    auto other = open_store();
    EXPECT_EQ(other->find_mcp_session(id, a.id, 0)->log_level, "warning");
    ASSERT_TRUE(other->delete_mcp_session(id, a.id));
    EXPECT_EQ(store->find_mcp_session(id, a.id, 0).error().code, ErrorCode::not_found);
    EXPECT_EQ(store->touch_mcp_session(id, a.id, 6'000).error().code, ErrorCode::not_found);
    EXPECT_EQ(store->delete_mcp_session(id, a.id).error().code, ErrorCode::not_found);
}

TEST_F(McpSessions, OnlyTheIdsHashIsStored) {
    ASSERT_TRUE(store->create_mcp_session(id, record(a, 1'000)));
    auto db = raw();
    auto st = db->prepare("SELECT id_hash FROM mcp_sessions");
    ASSERT_TRUE(st.step());
    const auto stored = st.blob(0);
    ASSERT_EQ(stored.size(), 32u);
    EXPECT_EQ(std::string(stored.begin(), stored.end()).find(id.substr(0, 8)), std::string::npos);
    EXPECT_EQ(mcp_session_id_hash(id).size(), 64u);
    EXPECT_NE(mcp_session_id_hash(id), mcp_session_id_hash(id + "0"));
}

TEST_F(McpSessions, TheIdleSweepDeletesOnlyIdleRowsInBatches) {
    for (int i = 0; i < 150; ++i) ASSERT_TRUE(store->create_mcp_session("idle-" + std::to_string(i), record(a, 1'000)));
    ASSERT_TRUE(store->create_mcp_session(id, record(b, 1'000)));
    ASSERT_TRUE(store->touch_mcp_session(id, b.id, 10'000));   // in use elsewhere: kept
    auto first = store->delete_idle_mcp_sessions(5'000, 1'000);   // capped at 100 a call
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, 100u);
    EXPECT_EQ(*store->delete_idle_mcp_sessions(5'000, 100), 50u);
    EXPECT_EQ(*store->delete_idle_mcp_sessions(5'000, 100), 0u);
    EXPECT_EQ(rows(), 1);
    EXPECT_TRUE(store->find_mcp_session(id, b.id, 0));
    // A team's deletion takes its sessions with it.
    exec_raw("DELETE FROM tenants WHERE id = '" + b.id + "'");
    EXPECT_EQ(rows(), 0);
}

TEST_F(McpSessions, DeletionsAreAnnouncedByHashOnly) {
    if (!on_postgresql()) GTEST_SKIP() << "LISTEN/NOTIFY is PostgreSQL's";
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> heard;
    auto listener = PgListener::start(database.url(), [&](std::string_view channel, std::string_view payload) {
        if (channel != kSessionEndedChannel) return;
        std::lock_guard lock(mu);
        heard.emplace_back(payload);
        cv.notify_all();
    });
    const auto heard_payload = [&](const std::string& payload) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, std::chrono::seconds(10),
                           [&] { return std::find(heard.begin(), heard.end(), payload) != heard.end(); });
    };
    ASSERT_TRUE(store->create_mcp_session(id, record(a, 1'000)));
    ASSERT_TRUE(store->create_mcp_session("idle-1", record(a, 1'000)));
    ASSERT_TRUE(store->create_mcp_session("idle-2", record(a, 1'000)));
    ASSERT_TRUE(store->touch_mcp_session("idle-2", a.id, 2'000));
    ASSERT_TRUE(store->delete_mcp_session(id, a.id));
    EXPECT_TRUE(heard_payload(mcp_session_id_hash(id)));
    ASSERT_EQ(*store->delete_idle_mcp_sessions(1'500, 100), 1u);
    EXPECT_TRUE(heard_payload(mcp_session_id_hash("idle-1")));
    std::lock_guard lock(mu);
    for (const auto& p : heard) EXPECT_EQ(p.find(id), std::string::npos) << "the id itself never travels";
}

}  // namespace
}  // namespace rollout_mcp::storage::test
