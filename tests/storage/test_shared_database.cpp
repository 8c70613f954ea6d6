// One database shared by several server instances (docs/ARCHITECTURE.md, "Several instances"): the two engines'
// schemas match table for table and column for column; instances starting together migrate once and create one
// first key; instances claiming from one outbox never claim a job twice nor run two jobs of one tour or one buyer
// in one CRM at once.
#include "storage/migrations.hpp"
#include "storage/postgres_listener.hpp"
#include "tests/storage/outbox_fixture.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <unistd.h>

namespace rollout_mcp::storage::test {
namespace {

using Columns = std::map<std::string, std::set<std::string>>;

Columns sqlite_columns(Database& db) {
    Columns out;
    Statement st = db.prepare(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p"
        " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'");
    while (st.step()) out[st.text(0)].insert(st.text(1));
    return out;
}

Columns postgres_columns(Database& db) {
    Columns out;
    Statement st = db.prepare(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()");
    while (st.step()) out[st.text(0)].insert(st.text(1));
    return out;
}

class SharedDatabase : public StorageTest {};

TEST_F(SharedDatabase, BothEnginesHaveTheSameTablesAndColumns) {
    if (!on_postgresql()) GTEST_SKIP() << "compares the SQLite schema with the PostgreSQL one";
    { auto pg = open_store(); }
    rollout_mcp::test::TempDir other;
    { auto sqlite = SqlStorage::open(other / "schema.db", master_copy(master, "test")); }
    auto sqlite_db = SqliteDatabase::open(other / "schema.db");
    const Columns sqlite = sqlite_columns(*sqlite_db);
    const Columns pg = postgres_columns(*raw());
    EXPECT_GE(sqlite.size(), 14u);
    EXPECT_EQ(sqlite, pg);
}

TEST_F(SharedDatabase, InstancesStartingTogetherMigrateOnceAndShareOneFirstKey) {
    constexpr int kInstances = 4;
    std::vector<std::unique_ptr<SqlStorage>> stores(kInstances);
    std::vector<std::string> errors(kInstances);
    std::vector<std::thread> threads;
    for (int i = 0; i < kInstances; ++i)
        threads.emplace_back([&, i] {
            try {
                stores[i] = open_store();
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    for (auto& t : threads) t.join();
    for (const auto& e : errors) ASSERT_EQ(e, "");
    auto db = raw();
    const auto count = [&](const char* sql) {
        Statement st = db->prepare(sql);
        return st.step() ? st.int64(0) : -1;
    };
    EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"),
              static_cast<std::int64_t>(migrations(db->dialect()).size()));
    EXPECT_EQ(count("SELECT count(*) FROM data_keys"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM master_key_check"), 1);
    // Every instance opens what another one sealed, and accepts the API keys another issued.
    const Tenant t = make_tenant(*stores[0], "acme");
    ASSERT_TRUE(stores[1]->put_rollout_config(t.id, "{}", bytes("secret")));
    auto key = stores[2]->issue_api_key(t.id);
    ASSERT_TRUE(key);
    for (auto& s : stores) {
        auto config = s->get_rollout_config(t.id);
        ASSERT_TRUE(config) << config.error().message;
        EXPECT_EQ(config->secret.text(), "secret");
        EXPECT_TRUE(s->authenticate(key->key.text()));
    }
}

// A PostgreSQL restart or a killed backend: the call that meets the broken connection fails with a database
// error, and the next call connects again (the storage thread never dies, nothing is retried blindly).
TEST_F(SharedDatabase, ALostConnectionFailsOneCallAndTheNextReconnects) {
    if (!on_postgresql()) GTEST_SKIP() << "a PostgreSQL connection";
    { auto first = open_store(); }   // migrated
    const std::string name = "rmcp_reconnect_" + std::to_string(::getpid());
    auto s = SqlStorage::connect_postgres(database.url() + "&application_name=" + name, master_copy(master, "test"));
    const Tenant t = make_tenant(*s, "acme");
    // Waits (up to 5 s) until the backend is gone, so the next call surely meets a dead connection.
    raw()->exec(
        ("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = '" + name + "'").c_str());
    bool failed_once = false;
    for (int i = 0; i < 3; ++i) {
        auto found = s->find_tenant(t.id);
        if (found) break;
        EXPECT_EQ(found.error().code, ErrorCode::database) << found.error().message;
        EXPECT_FALSE(failed_once) << "a second call failed too: " << found.error().message;
        failed_once = true;
    }
    EXPECT_TRUE(failed_once) << "the terminated connection was never noticed";
    auto again = s->find_tenant(t.id);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->name, "acme");
}

class SharedOutbox : public Outbox {};

// Two instances drain one outbox at once. Jobs share tours and buyers; each claim is checked against the jobs the
// other instance holds at that moment.
TEST_F(SharedOutbox, TwoInstancesNeverClaimAJobTwiceNorOverlapATourOrABuyer) {
    constexpr int kJobs = 120;
    std::vector<std::string> ids;
    for (int i = 0; i < kJobs; i += 4) {
        std::vector<NewSyncJob> jobs;
        for (int k = 0; k < 4; ++k) {
            const int n = i + k;
            NewSyncJob j = job("tour-" + std::to_string(n % 10) + "/p" + std::to_string(n));
            j.lock_key = "buyer-" + std::to_string(n % 7);   // the same buyer across tours
            jobs.push_back(std::move(j));
        }
        for (auto& id : enqueue((i / 4) % 2 ? b : a, std::move(jobs), 1'000)) ids.push_back(std::move(id));
    }
    std::mutex mu;
    std::map<std::string, int> claims;               // job -> successful claims
    std::set<std::string> held_tours, held_buyers;   // what is running now, across both instances
    std::map<std::string, int> held_per_team;
    constexpr int kTeamCap = 3;
    std::string violation;
    std::atomic<int> finished{0};
    const auto drain = [&](SqlStorage& s) {
        for (int round = 0; round < 2000 && finished.load() < kJobs; ++round) {
            auto due = s.due_sync_jobs(1'000, 8, 16);
            if (!due) continue;   // busy: try again
            std::vector<std::string> wanted;
            for (const auto& d : *due) wanted.push_back(d.id);
            auto got = s.claim_sync_jobs(wanted, 1'000, 1'000'000);
            if (!got) continue;
            // The whole batch is held at once (as a worker holds it), each job until just before its finish.
            {
                std::lock_guard lock(mu);
                for (const auto& c : *got) {
                    const std::string tour = c.info.tenant_id + c.info.tour_id, buyer = c.info.tenant_id + c.info.lock_key;
                    if (++claims[c.info.id] > 1) violation = "job claimed twice: " + c.info.id;
                    if (!held_tours.insert(tour).second) violation = "two jobs of one tour at once: " + tour;
                    if (!held_buyers.insert(buyer).second) violation = "two jobs of one buyer at once: " + buyer;
                    if (++held_per_team[c.info.tenant_id] > kTeamCap) violation = "team over its in-flight cap";
                }
            }
            for (const auto& c : *got) {
                const std::string tour = c.info.tenant_id + c.info.tour_id, buyer = c.info.tenant_id + c.info.lock_key;
                std::this_thread::yield();
                {
                    std::lock_guard lock(mu);
                    held_tours.erase(tour);
                    held_buyers.erase(buyer);
                    --held_per_team[c.info.tenant_id];
                }
                auto done = s.finish_sync_attempt(c.info.id, c.claim_token, Outcome(Next::succeed), 1'000);
                if (done) ++finished;
            }
        }
    };
    StorageLimits caps;
    caps.max_running_per_tenant = kTeamCap;
    store->set_limits(caps);
    auto other = open_store();
    other->set_limits(caps);
    std::thread one([&] { drain(*store); });
    std::thread two([&] { drain(*other); });
    one.join();
    two.join();
    EXPECT_EQ(violation, "");
    EXPECT_EQ(finished.load(), kJobs);
    EXPECT_EQ(claims.size(), static_cast<std::size_t>(kJobs));
    auto stats = store->outbox_stats(1'000);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->succeeded, kJobs);
}

// [sync] per_team_in_flight and per_crm_in_flight are counted in the database: a second instance cannot claim
// past them while the first one's claims are live, and an expired claim no longer counts.
TEST_F(SharedOutbox, InFlightCapsCountEveryInstancesLiveClaims) {
    StorageLimits caps;
    caps.max_running_per_tenant = 3;
    caps.max_running_per_crm = 2;
    store->set_limits(caps);
    auto other = open_store();
    other->set_limits(caps);
    std::vector<NewSyncJob> jobs;
    for (int i = 0; i < 3; ++i) jobs.push_back(job("h" + std::to_string(i) + "/p", "hubspot"));
    for (int i = 0; i < 3; ++i) jobs.push_back(job("l" + std::to_string(i) + "/p", "lofty"));
    const auto ids = enqueue(a, std::move(jobs), 1'000);
    const auto b_ids = enqueue(b, {job("bt/p", "hubspot")}, 1'000);
    auto first = store->claim_sync_jobs({ids[0], ids[1], ids[2]}, 1'000, 60'000);   // hubspot: 2 of 3
    ASSERT_TRUE(first);
    EXPECT_EQ(first->size(), 2u);
    auto second = other->claim_sync_jobs({ids[2], ids[3], ids[4], ids[5], b_ids[0]}, 1'000, 60'000);
    ASSERT_TRUE(second);
    // hubspot is full (2), the team has room for one more (3): one lofty job; team b is not counted against a.
    ASSERT_EQ(second->size(), 2u);
    EXPECT_EQ(second->at(0).info.crm_type, "lofty");
    EXPECT_EQ(second->at(1).info.tenant_id, b.id);
    // The first instance's claims expire (it died): their slots are free again.
    auto later = other->claim_sync_jobs({ids[2], ids[4]}, 70'000, 130'000);
    ASSERT_TRUE(later);
    EXPECT_EQ(later->size(), 2u);
}

// Two instances' alert loops claim from one outbox at once (storage/storage.hpp, claim_alerts): every dead job's
// alert is claimed, and so posted, by exactly one of them.
TEST_F(SharedOutbox, TwoInstancesClaimEachDeadJobsAlertOnce) {
    constexpr int kJobs = 40;
    std::vector<NewSyncJob> jobs;
    for (int i = 0; i < kJobs; ++i) jobs.push_back(job("dead-" + std::to_string(i) + "/p"));
    const auto ids = enqueue(a, std::move(jobs), 1'000);
    for (const auto& id : ids) settle(id, Next::die, 2'000);
    auto other = open_store();
    std::mutex mu;
    std::map<std::string, int> claims;
    std::string violation;
    const auto drain = [&](SqlStorage& s) {
        for (int round = 0; round < 2000; ++round) {
            auto got = s.claim_alerts(3'000, 63'000, 1);
            if (!got) continue;   // busy: try again
            if (got->empty()) return;
            {
                std::lock_guard lock(mu);
                ++claims[got->front().job.id];
            }
            std::this_thread::yield();   // "posting" while the other instance claims
            if (auto done = s.finish_alert(got->front().job.id, got->front().claimed_until_ms, true, 0); !done) {
                std::lock_guard lock(mu);
                violation = "a claim could not record its delivery: " + done.error().message;
            }
        }
    };
    std::thread one([&] { drain(*store); });
    std::thread two([&] { drain(*other); });
    one.join();
    two.join();
    EXPECT_EQ(violation, "");
    EXPECT_EQ(claims.size(), static_cast<std::size_t>(kJobs));
    for (const auto& [id, n] : claims) EXPECT_EQ(n, 1) << id;
    EXPECT_EQ(store->outbox_stats(100'000)->alerts_pending, 0);
}

// What one instance writes wakes the others: enqueues and retries name their jobs on one channel, every recorded
// attempt names its job on the other, and only once the transaction commits.
TEST_F(SharedOutbox, AnotherInstanceHearsQueuedJobsAndRecordedAttempts) {
    if (!on_postgresql()) GTEST_SKIP() << "LISTEN/NOTIFY is PostgreSQL's";
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<std::string, std::string>> heard;
    auto listener = PgListener::start(database.url(), [&](std::string_view channel, std::string_view payload) {
        std::lock_guard lock(mu);
        heard.emplace_back(channel, payload);
        cv.notify_all();
    });
    const auto wait_for = [&](std::string_view channel, const std::string& payload) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, std::chrono::seconds(10), [&] {
            for (const auto& [c, p] : heard)
                if (c == channel && p == payload) return true;
            return false;
        });
    };
    auto other = open_store();
    const auto ids = enqueue(a, {job("t1"), job("t2")}, 1'000);
    EXPECT_TRUE(wait_for(kJobsQueuedChannel, ids[0] + "," + ids[1]));
    auto claimed = other->claim_sync_jobs({ids[0]}, 1'000, 60'000);
    ASSERT_TRUE(claimed && claimed->size() == 1);
    ASSERT_TRUE(other->finish_sync_attempt(ids[0], claimed->front().claim_token, Outcome(Next::fail), 2'000));
    EXPECT_TRUE(wait_for(kJobAttemptChannel, ids[0]));
    ASSERT_TRUE(store->retry_sync_jobs(Q().tenant(a.id).job(ids[0]), 3'000));
    EXPECT_TRUE(wait_for(kJobsQueuedChannel, ids[0]));
    // Exactly those three (channels are database-wide: other tests' schemas may be talking too).
    std::lock_guard lock(mu);
    EXPECT_EQ(std::count_if(heard.begin(), heard.end(),
                            [&](const auto& h) {
                                return h.second.find(ids[0]) != std::string::npos ||
                                       h.second.find(ids[1]) != std::string::npos;
                            }),
              3);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
