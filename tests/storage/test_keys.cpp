#include "tests/storage/storage_fixture.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

namespace rollout_mcp::storage::test {
namespace {

class Keys : public StorageTest {
protected:
    // Fills two tenants with n rows each across both sealed tables; returns expected plaintexts.
    std::map<std::string, std::string> populate(SqlStorage& s, int n) {
        std::map<std::string, std::string> expected;
        // More CRMs per tenant than the default cap ([rollout] max_crm_connections_per_team, 16) allows.
        StorageLimits roomy;
        roomy.max_crm_connections_per_tenant = 1'000;
        s.set_limits(roomy);
        for (const char* name : {"alpha", "beta"}) {
            const Tenant t = make_tenant(s, name);
            const std::string rs = std::string("rollout-") + name;
            EXPECT_TRUE(s.put_rollout_config(t.id, "{}", bytes(rs)));
            expected[t.id + "/rollout"] = rs;
            for (int i = 0; i < n; ++i) {
                const std::string crm = "crm-" + std::to_string(i);
                const std::string secret = std::string("cred-") + name + "-" + std::to_string(i);
                EXPECT_TRUE(s.put_crm_connection(t.id, crm, "", bytes(secret)));
                expected[t.id + "/" + crm] = secret;
            }
        }
        return expected;
    }

    // Every row opens to the value written, and there are no more rows than that.
    void verify_all(SqlStorage& s, const std::map<std::string, std::string>& expected) {
        std::size_t rows = 0;
        for (const Tenant& t : *s.list_tenants()) {
            auto rc = s.get_rollout_config(t.id);
            ASSERT_TRUE(rc) << rc.error().message;
            EXPECT_EQ(rc->secret.text(), expected.at(t.id + "/rollout"));
            ++rows;
            for (const CrmConnectionInfo& c : *s.list_crm_connections(t.id)) {
                auto conn = s.get_crm_connection(t.id, c.crm_type);
                ASSERT_TRUE(conn) << conn.error().message;
                EXPECT_EQ(conn->credential_key.text(), expected.at(t.id + "/" + c.crm_type));
                ++rows;
            }
        }
        EXPECT_EQ(rows, expected.size());
    }

    void finish_reseal(SqlStorage& s) {
        for (int guard = 0; guard < 10'000; ++guard) {
            auto p = s.reseal_batch(7);
            ASSERT_TRUE(p) << p.error().message;
            if (p->remaining == 0) return;
        }
        FAIL() << "reseal did not converge";
    }
};

TEST_F(Keys, WrongMasterKeyRefusedAtStartupNamingTheSource) {
    { auto s = open_store(); make_tenant(*s, "acme"); }
    try {
        (void)open_store_with(crypto::MasterKey{crypto::SecretBytes::random(32),
                                                               "file /etc/rollout-mcp/wrong.key", {}});
        FAIL() << "opened with the wrong master key";
    } catch (const StorageStartupError& e) {
        EXPECT_NE(std::string(e.what()).find("file /etc/rollout-mcp/wrong.key"), std::string::npos) << e.what();
    }
}

TEST_F(Keys, AlteredWrappedDataKeyRefusedAtStartup) {
    { auto s = open_store(); }
    exec_raw("UPDATE data_keys SET wrapped = zeroblob(48)");
    try {
        (void)open_store();
        FAIL() << "opened with a corrupted data key";
    } catch (const StorageStartupError& e) {
        EXPECT_NE(std::string(e.what()).find("data key 1"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("test master key"), std::string::npos) << e.what();
    }
}

TEST_F(Keys, RotateResealInBatchesSurvivesSimulatedCrash) {
    std::map<std::string, std::string> expected;
    {
        auto s = open_store();
        expected = populate(*s, 20);  // 42 rows under key 1
        auto id = s->rotate_data_key();
        ASSERT_TRUE(id);
        EXPECT_EQ(*id, 2u);
        auto p = s->reseal_batch(10);
        ASSERT_TRUE(p);
        EXPECT_EQ(p->resealed, 10u);
        EXPECT_EQ(p->remaining, 32);
        // "Crash": the process goes away here; nothing in memory matters.
    }
    auto s = open_store();
    auto st = s->key_status();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->active_key_id, 2u);
    EXPECT_EQ(st->rows_to_reseal, 32);
    verify_all(*s, expected);  // mixed keys: every row still opens
    finish_reseal(*s);
    st = s->key_status();
    ASSERT_EQ(st->keys.size(), 2u);
    EXPECT_EQ(st->keys[0].state, "retired");
    EXPECT_EQ(st->keys[0].rollout_configs + st->keys[0].crm_connections, 0);
    EXPECT_EQ(st->keys[1].rollout_configs + st->keys[1].crm_connections, 42);
    EXPECT_EQ(*s->destroy_unused_keys(), 1u);
    EXPECT_EQ(s->key_status()->keys.size(), 1u);
    verify_all(*s, expected);
    // And after restart the destroyed key is gone for good.
    s.reset();
    verify_all(*open_store(), expected);
}

TEST_F(Keys, RotationByAnotherProcessIsFollowed) {
    auto s = open_store();
    const Tenant t = make_tenant(*s, "acme");
    ASSERT_TRUE(s->put_crm_connection(t.id, "hubspot", "", bytes("v1")));
    ASSERT_TRUE(s->put_crm_connection(t.id, "lofty", "", bytes("l1")));
    // A second process (the server) loaded its keys before `keys rotate` ran in this one.
    auto server = open_store();
    ASSERT_TRUE(s->rotate_data_key());
    // Its next write seals under the new active key, not the retired one it had cached...
    ASSERT_TRUE(server->put_crm_connection(t.id, "hubspot", "", bytes("v2")));
    EXPECT_EQ(s->key_status()->rows_to_reseal, 1);  // only lofty
    finish_reseal(*s);
    EXPECT_EQ(*s->destroy_unused_keys(), 1u);
    // ...and it opens rows resealed under a key it has never seen, and keeps writing after the
    // old key is destroyed (no foreign-key failure from sealing under a deleted key).
    EXPECT_EQ(server->get_crm_connection(t.id, "lofty")->credential_key.text(), "l1");
    ASSERT_TRUE(server->put_crm_connection(t.id, "hubspot", "", bytes("v3")));
    EXPECT_EQ(s->get_crm_connection(t.id, "hubspot")->credential_key.text(), "v3");
}

TEST_F(Keys, RewrapMasterKeepsRowsAndApiKeys) {
    std::map<std::string, std::string> expected;
    std::string api_key;
    const auto new_master = crypto::SecretBytes::random(32);
    {
        auto s = open_store();
        expected = populate(*s, 3);
        api_key = std::string(s->issue_api_key(s->list_tenants()->at(0).id)->key.text());
        ASSERT_TRUE(s->rotate_data_key());
        ASSERT_TRUE(s->rewrap_master(master_copy(new_master, "file /new.key")));
        verify_all(*s, expected);
        EXPECT_EQ(s->key_status()->master_key_source, "file /new.key");
    }
    EXPECT_THROW((void)open_store(), StorageStartupError);  // the old master no longer opens it
    auto s = open_store_with(master_copy(new_master, "file /new.key"));
    verify_all(*s, expected);
    EXPECT_TRUE(s->authenticate(api_key));
}

TEST_F(Keys, ResealRefusesToSkipARowThatDoesNotOpen) {
    auto s = open_store();
    const Tenant t = make_tenant(*s, "acme");
    ASSERT_TRUE(s->put_crm_connection(t.id, "hubspot", "", bytes("v1")));
    ASSERT_TRUE(s->rotate_data_key());
    exec_raw("UPDATE crm_connections SET nonce = zeroblob(24)");
    auto p = s->reseal_batch(10);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, ErrorCode::crypto);
    EXPECT_NE(p.error().message.find("crm_connection/hubspot"), std::string::npos);
    EXPECT_EQ(s->key_status()->rows_to_reseal, 1);
}

// Kill -9 a child process in the middle of re-sealing, then resume in this process.
TEST_F(Keys, RotationResumesAfterKillNine) {
    std::map<std::string, std::string> expected;
    { auto s = open_store(); expected = populate(*s, 100); }  // closed before fork: no shared connection
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(pipefd[0]);
        try {
            auto s = open_store();
            if (!s->rotate_data_key()) ::_exit(2);
            for (;;) {
                auto p = s->reseal_batch(1);
                if (!p) ::_exit(3);
                const char tick = 'x';
                if (::write(pipefd[1], &tick, 1) != 1) ::_exit(4);
                ::usleep(1000);
            }
        } catch (...) {
            ::_exit(5);
        }
    }
    ::close(pipefd[1]);
    char buf[5];
    std::size_t got = 0;
    while (got < sizeof buf) {
        const ssize_t n = ::read(pipefd[0], buf, sizeof buf - got);
        ASSERT_GT(n, 0) << "child died early";
        got += static_cast<std::size_t>(n);
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ::close(pipefd[0]);
    ASSERT_TRUE(WIFSIGNALED(status));

    auto s = open_store();
    auto st = s->key_status();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->active_key_id, 2u);
    EXPECT_GT(st->rows_to_reseal, 0);
    EXPECT_LT(st->rows_to_reseal, static_cast<std::int64_t>(expected.size()));
    finish_reseal(*s);
    verify_all(*s, expected);
    EXPECT_EQ(s->key_status()->rows_to_reseal, 0);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
