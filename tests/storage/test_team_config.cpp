// The team configuration version (storage/team_config.hpp), on both engines: every writer raises it (the
// repository calls, key rotation, a raw SQL write as an older version or another process would make), another
// team sharing the credential is raised too, and the API key check and the job claim hand it out.
#include "outbox_fixture.hpp"

#include <set>

namespace rollout_mcp::storage::test {
namespace {

class TeamConfig : public Outbox {
protected:
    std::int64_t version(const Tenant& t) {
        auto c = store->get_team_config(t.id);
        if (!c) throw std::runtime_error(c.error().message);
        return c->version;
    }
    void connect(const Tenant& t, const std::string& crm, const std::string& credential) {
        ASSERT_TRUE(store->put_crm_connection(t.id, crm, crm, bytes(credential)));
    }
};

TEST_F(TeamConfig, OneCallReadsTheSettingsSecretsAndEveryConnection) {
    auto empty = store->get_team_config(a.id);
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_FALSE(empty->rollout);
    EXPECT_TRUE(empty->connections.empty());
    ASSERT_TRUE(store->put_rollout_config(a.id, R"({"projectEnvKey":"p"})", bytes("secret-a"), bytes("hook-key-a-16byte")));
    connect(a, "lofty", "cred-l");
    connect(a, "highlevel", "cred-h");
    connect(b, "highlevel", "cred-h");   // the same credential as a's
    auto c = store->get_team_config(a.id);
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_TRUE(c->rollout);
    EXPECT_EQ(c->rollout->settings_json, R"({"projectEnvKey":"p"})");
    EXPECT_EQ(c->rollout->secret.text(), "secret-a");
    EXPECT_EQ(c->rollout->webhook_secret.text(), "hook-key-a-16byte");
    ASSERT_EQ(c->connections.size(), 2u);
    EXPECT_EQ(c->connections[0].info.crm_type, "highlevel");
    EXPECT_EQ(c->connections[0].credential_key.text(), "cred-h");
    EXPECT_TRUE(c->connections[0].shared_with_other_team);
    EXPECT_EQ(c->connections[1].credential_key.text(), "cred-l");
    EXPECT_FALSE(c->connections[1].shared_with_other_team);
    EXPECT_EQ(store->get_team_config("t_000000000000000000000000").error().code, ErrorCode::not_found);
}

TEST_F(TeamConfig, ADamagedConnectionIsListedAsUnreadableAndTheOthersStillOpen) {
    connect(a, "highlevel", "cred-h");
    connect(a, "lofty", "cred-l");
    // lofty's ciphertext moved onto highlevel's row: sealed for another row, it must not open there.
    exec_raw("UPDATE crm_connections SET"
             " nonce = (SELECT nonce FROM crm_connections WHERE tenant_id = '" + a.id + "' AND crm_type = 'lofty'),"
             " ciphertext = (SELECT ciphertext FROM crm_connections WHERE tenant_id = '" + a.id + "' AND crm_type = 'lofty')"
             " WHERE tenant_id = '" + a.id + "' AND crm_type = 'highlevel'");
    auto c = store->get_team_config(a.id);
    ASSERT_TRUE(c) << "one damaged row must not make the whole team unreadable: " << c.error().message;
    ASSERT_EQ(c->connections.size(), 2u);
    EXPECT_FALSE(c->connections[0].unreadable.empty());
    EXPECT_TRUE(c->connections[0].credential_key.empty());
    EXPECT_TRUE(c->connections[1].unreadable.empty());
    EXPECT_EQ(c->connections[1].credential_key.text(), "cred-l");
}

TEST_F(TeamConfig, EveryChangeRaisesTheVersionAndOnlyForTheTeamsItConcerns) {
    std::int64_t va = version(a), vb = version(b);
    auto raised = [&](bool a_expected, bool b_expected, const char* step) {
        const auto na = version(a), nb = version(b);
        EXPECT_EQ(na > va, a_expected) << step;
        EXPECT_EQ(nb > vb, b_expected) << step;
        EXPECT_GE(na, va) << step;
        EXPECT_GE(nb, vb) << step;
        va = na;
        vb = nb;
    };
    ASSERT_TRUE(store->put_rollout_config(a.id, "{}", bytes("s1")));
    raised(true, false, "configure_rollout");
    ASSERT_TRUE(store->put_rollout_config(a.id, "{}", bytes("s2")));
    raised(true, false, "configure_rollout again");
    connect(a, "highlevel", "cred-1");
    raised(true, false, "a connects");
    connect(b, "highlevel", "cred-1");
    raised(true, true, "b connects a's credential: a's shared flag moves");
    connect(b, "highlevel", "cred-2");
    raised(true, true, "b moves away from it");
    connect(b, "lofty", "cred-3");
    raised(false, true, "b connects its own credential");
    ASSERT_TRUE(store->rotate_data_key());
    raised(false, false, "a new active key alone rewrites no row");
    auto resealed = store->reseal_batch(1000);
    ASSERT_TRUE(resealed) << resealed.error().message;
    raised(true, true, "re-sealing under the new key rewrites every row");
    ASSERT_TRUE(store->delete_crm_connection(a.id, "highlevel"));
    raised(true, false, "a disconnects");
    ASSERT_TRUE(store->delete_rollout_config(a.id));
    raised(true, false, "a's Rollout settings removed");
    // A writer that is not this repository (an older version, another process): the trigger still counts it.
    exec_raw("UPDATE crm_connections SET label = 'renamed' WHERE tenant_id = '" + b.id + "'");
    raised(false, true, "a raw update");
    // Nothing else moves it: enqueueing, claiming and finishing jobs leave it alone.
    const auto ids = enqueue(b, {job("T1")}, 1000);
    settle(ids[0], Next::retry, 1000);
    raised(false, false, "outbox work");
}

TEST_F(TeamConfig, TheKeyCheckAndTheClaimHandOutTheCurrentVersion) {
    auto issued = store->issue_api_key(a.id);
    ASSERT_TRUE(issued);
    const std::string key(issued->key.text());
    const auto ids = enqueue(a, {job("T1")}, 1000);
    connect(a, "hubspot", "cred-1");
    auto who = store->authenticate(key);
    ASSERT_TRUE(who);
    EXPECT_EQ(who->config_version, version(a));
    auto claimed = store->claim_sync_jobs(ids, 2000, 60'000);
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->front().config_version, version(a));
    const auto before = version(a);
    connect(a, "hubspot", "cred-2");
    EXPECT_GT(store->authenticate(key)->config_version, before);
}

// tenants.legacy_markers (SQLite migration 15, PostgreSQL 10): the teams the migration finds may have records with
// team-less markers; a team created after it never wrote one.
TEST_F(TeamConfig, TeamsFromBeforeTheLegacyMarkersMigrationKeepTheSearchAndNewTeamsDoNot) {
    EXPECT_FALSE(store->get_team_config(a.id)->legacy_markers);
    store.reset();   // back to before the migration (and the later ones: sync_jobs' indexes, the ledger's key)
    const std::string indexes_before =
        " DROP INDEX sync_jobs_tenant_due; DROP INDEX sync_jobs_finished; DROP INDEX sync_jobs_key;"
        " CREATE INDEX sync_jobs_batch ON sync_jobs(batch_id); CREATE INDEX sync_jobs_tenant ON sync_jobs(tenant_id, created_at);"
        " CREATE INDEX sync_jobs_live ON sync_jobs(tenant_id, crm_type, status);"
        " CREATE INDEX sync_jobs_tenant_status ON sync_jobs(tenant_id, status);"
        " CREATE INDEX sync_jobs_finished ON sync_jobs(status, finished_at); CREATE INDEX sync_jobs_key ON sync_jobs(key_id);";
    exec_raw(on_postgresql() ? "DROP TRIGGER tenants_legacy_markers_version ON tenants;"
                               " DROP FUNCTION tenants_legacy_markers_version(); ALTER TABLE tenants DROP COLUMN legacy_markers;"
                               " DELETE FROM schema_migrations WHERE version >= 10;"
                               " ALTER TABLE sync_ledger DROP CONSTRAINT sync_ledger_pkey,"
                               " ADD PRIMARY KEY (tenant_id, crm_type, entity_kind, local_id);"
                               " CREATE INDEX sync_ledger_local ON sync_ledger(tenant_id, crm_type, local_id);" + indexes_before
                             : "DROP TRIGGER tenants_legacy_markers_version; ALTER TABLE tenants DROP COLUMN legacy_markers;"
                               " DELETE FROM schema_migrations WHERE version >= 15;" + indexes_before);
    store = open_store();
    EXPECT_EQ(names_of(sync_jobs_indexes()),
              (std::vector<std::string>{"sync_jobs_due", "sync_jobs_finished", "sync_jobs_key", "sync_jobs_payload",
                                        "sync_jobs_subject", "sync_jobs_tenant_due", "sync_jobs_tour"}));
    auto old = store->get_team_config(a.id);
    ASSERT_TRUE(old) << old.error().message;
    EXPECT_TRUE(old->legacy_markers);
    EXPECT_TRUE(store->get_team_config(b.id)->legacy_markers);
    const auto later = make_tenant(*store, "later");
    EXPECT_FALSE(store->get_team_config(later.id)->legacy_markers);
}

TEST_F(TeamConfig, ChangingTheLegacyMarkersFlagRaisesTheVersion) {
    const auto before = version(a);
    exec_raw("UPDATE tenants SET legacy_markers = 1 WHERE id = '" + a.id + "'");   // as an operator's SQL would
    EXPECT_GT(version(a), before) << "a cached configuration must see the flag change";
    EXPECT_TRUE(store->get_team_config(a.id)->legacy_markers);
    const auto after = version(a);
    exec_raw("UPDATE tenants SET legacy_markers = 1 WHERE id = '" + a.id + "'");
    EXPECT_EQ(version(a), after) << "the same value is no change";
    EXPECT_THROW(exec_raw("UPDATE tenants SET legacy_markers = 2 WHERE id = '" + a.id + "'"), std::exception);
}

// The ledger's appointment type id belongs to one CRM account: a new credential drops it, the same one keeps it, and
// the team's other rows (people, visits) stay either way.
TEST_F(TeamConfig, AnotherCredentialDropsTheLedgersAppointmentTypeOnly) {
    connect(a, "highlevel", "cred-1");
    connect(b, "highlevel", "cred-2");
    for (const Tenant* t : {&a, &b})
        exec_raw("INSERT INTO sync_ledger(tenant_id, crm_type, entity_kind, local_id, external_id, created_at, updated_at)"
                 " VALUES ('" + t->id + "', 'highlevel', 'appointment_type', 'Showing', 'type-1', 1, 1),"
                 " ('" + t->id + "', 'highlevel', 'person', 'B-1', 'person-1', 1, 1)");
    const auto kinds = [&](const Tenant& t) {
        std::set<std::string> out;
        for (const auto& e : *store->sync_ledger(t.id, "highlevel", {"Showing", "B-1"})) out.insert(e.entity_kind);
        return out;
    };
    connect(a, "highlevel", "cred-1");   // the same credential again (a new label, a re-authorization)
    EXPECT_EQ(kinds(a), (std::set<std::string>{"appointment_type", "person"}));
    connect(a, "highlevel", "cred-3");   // another CRM account
    EXPECT_EQ(kinds(a), (std::set<std::string>{"person"}));
    EXPECT_EQ(kinds(b), (std::set<std::string>{"appointment_type", "person"})) << "another team's rows are untouched";
}

}  // namespace
}  // namespace rollout_mcp::storage::test
