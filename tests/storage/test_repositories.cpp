#include "tests/storage/storage_fixture.hpp"

namespace rollout_mcp::storage::test {
namespace {

using Repositories = TwoTeamsTest;

TEST_F(Repositories, TenantsCreateListFind) {
    EXPECT_TRUE(a.id.starts_with("t_"));
    EXPECT_NE(a.id, b.id);
    auto dup = store->create_tenant("team-a");
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, ErrorCode::already_exists);
    for (const char* bad : {"", "-x", "a b", "x/y", "\xc3\xa9"}) {
        auto r = store->create_tenant(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::invalid_argument);
    }
    auto all = store->list_tenants();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].name, "team-a");
    EXPECT_EQ(store->find_tenant_by_name("team-b")->id, b.id);
    EXPECT_EQ(store->find_tenant(a.id)->name, "team-a");
    EXPECT_EQ(store->find_tenant_by_name("nobody").error().code, ErrorCode::not_found);
}

TEST_F(Repositories, ApiKeyIssueAuthenticateRevoke) {
    auto issued = store->issue_api_key(a.id);
    ASSERT_TRUE(issued) << issued.error().message;
    const std::string key(issued->key.text());
    auto who = store->authenticate(key);
    ASSERT_TRUE(who) << who.error().message;
    EXPECT_EQ(who->tenant_id, a.id);
    EXPECT_EQ(who->prefix, issued->prefix);

    std::string wrong = key;
    wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
    for (const std::string& bad : {wrong, std::string("rmcp_short"), std::string(""),
                                   "rmcp_" + std::string(43, 'Q')}) {
        auto r = store->authenticate(bad);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, ErrorCode::unauthenticated);
        EXPECT_EQ(r.error().message, "invalid or revoked API key");  // same text for every reason
    }

    // Tenant B cannot revoke A's key; A can, by prefix with or without the tag; revocation is immediate.
    EXPECT_EQ(store->revoke_api_key(b.id, issued->prefix).error().code, ErrorCode::not_found);
    EXPECT_TRUE(store->authenticate(key));
    ASSERT_TRUE(store->revoke_api_key(a.id, "rmcp_" + issued->prefix));
    EXPECT_FALSE(store->authenticate(key));
    EXPECT_TRUE(store->revoke_api_key(a.id, issued->prefix));  // idempotent
    auto info = store->find_api_key(issued->prefix);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->tenant_id, a.id);
    EXPECT_TRUE(info->revoked_at.has_value());
}

TEST_F(Repositories, ApiKeyStoredOnlyAsHash) {
    auto issued = store->issue_api_key(a.id);
    ASSERT_TRUE(issued);
    ASSERT_TRUE(store->checkpoint());
    auto file = rollout_mcp::test::read_file(db_path());
    if (on_postgresql()) {   // every stored byte of the key rows, as text and as raw bytes
        auto db = raw();
        Statement st = db->prepare("SELECT id::text || tenant_id || prefix || created_at::text, hash FROM api_keys");
        file.clear();
        while (st.step()) {
            const std::string text = st.text(0);
            const auto hash = st.blob(1);
            file.insert(file.end(), text.begin(), text.end());
            file.insert(file.end(), hash.begin(), hash.end());
        }
    }
    EXPECT_TRUE(rollout_mcp::test::contains(file, issued->prefix));  // the lookup prefix is public
    EXPECT_FALSE(rollout_mcp::test::contains(file, issued->key.text()));
    EXPECT_FALSE(rollout_mcp::test::contains(file, issued->key.text().substr(13)));
}

TEST_F(Repositories, LastUsedIsBatchedUntilFlush) {
    auto k1 = store->issue_api_key(a.id);
    auto k2 = store->issue_api_key(b.id);
    ASSERT_TRUE(k1 && k2);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->authenticate(k1->key.text()));
    ASSERT_TRUE(store->authenticate(k2->key.text()));
    EXPECT_FALSE(store->list_api_keys(a.id)->at(0).last_used_at.has_value());  // no write per request
    auto flushed = store->flush_last_used();
    ASSERT_TRUE(flushed);
    EXPECT_EQ(*flushed, 2u);
    EXPECT_TRUE(store->list_api_keys(a.id)->at(0).last_used_at.has_value());
    EXPECT_EQ(*store->flush_last_used(), 0u);
    EXPECT_EQ(store->list_api_keys(a.id)->size(), 1u);  // listing is per tenant
}

TEST_F(Repositories, RolloutConfigPutGetReplaceDelete) {
    ASSERT_TRUE(store->put_rollout_config(a.id, R"({"projectEnvKey":"p1"})", bytes("client-secret-1")));
    auto got = store->get_rollout_config(a.id);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->settings_json, R"({"projectEnvKey":"p1"})");
    EXPECT_EQ(got->secret.text(), "client-secret-1");
    ASSERT_TRUE(store->put_rollout_config(a.id, R"({"projectEnvKey":"p2"})", bytes("client-secret-2")));
    EXPECT_EQ(store->get_rollout_config(a.id)->secret.text(), "client-secret-2");
    EXPECT_EQ(store->put_rollout_config(a.id, "{not json", bytes("x")).error().code,
              ErrorCode::invalid_argument);
    ASSERT_TRUE(store->delete_rollout_config(a.id));
    EXPECT_EQ(store->get_rollout_config(a.id).error().code, ErrorCode::not_found);
    EXPECT_EQ(store->delete_rollout_config(a.id).error().code, ErrorCode::not_found);
}

TEST_F(Repositories, CrmConnectionsPutGetListDelete) {
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "main", bytes("cred-hub")));
    ASSERT_TRUE(store->put_crm_connection(a.id, "follow-up-boss", "", bytes("cred-fub")));
    auto hub = store->get_crm_connection(a.id, "hubspot");
    ASSERT_TRUE(hub) << hub.error().message;
    EXPECT_EQ(hub->credential_key.text(), "cred-hub");
    EXPECT_EQ(hub->info.label, "main");
    auto list = store->list_crm_connections(a.id);
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].crm_type, "follow-up-boss");
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "renamed", bytes("cred-hub-2")));
    EXPECT_EQ(store->get_crm_connection(a.id, "hubspot")->credential_key.text(), "cred-hub-2");
    EXPECT_EQ(store->put_crm_connection(a.id, "HubSpot!", "", bytes("x")).error().code,
              ErrorCode::invalid_argument);
    ASSERT_TRUE(store->delete_crm_connection(a.id, "hubspot"));
    EXPECT_EQ(store->get_crm_connection(a.id, "hubspot").error().code, ErrorCode::not_found);
    EXPECT_EQ(store->list_crm_connections(a.id)->size(), 1u);
}

TEST_F(Repositories, TenantBCannotReadListOverwriteOrDeleteTenantARows) {
    ASSERT_TRUE(store->put_rollout_config(a.id, "{}", bytes("a-rollout-secret")));
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "a", bytes("a-cred")));
    EXPECT_EQ(store->get_rollout_config(b.id).error().code, ErrorCode::not_found);
    EXPECT_EQ(store->get_crm_connection(b.id, "hubspot").error().code, ErrorCode::not_found);
    EXPECT_TRUE(store->list_crm_connections(b.id)->empty());
    EXPECT_EQ(store->delete_crm_connection(b.id, "hubspot").error().code, ErrorCode::not_found);
    EXPECT_EQ(store->delete_rollout_config(b.id).error().code, ErrorCode::not_found);
    // B writing "the same" slot creates B's own row; A's is untouched.
    ASSERT_TRUE(store->put_crm_connection(b.id, "hubspot", "b", bytes("b-cred")));
    EXPECT_EQ(store->get_crm_connection(a.id, "hubspot")->credential_key.text(), "a-cred");
    EXPECT_EQ(store->get_crm_connection(b.id, "hubspot")->credential_key.text(), "b-cred");
    EXPECT_EQ(store->get_rollout_config(a.id)->secret.text(), "a-rollout-secret");
}

TEST_F(Repositories, CiphertextMovedBetweenTenantsOrRowsDoesNotOpen) {
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "", bytes("a-hub")));
    ASSERT_TRUE(store->put_crm_connection(a.id, "lofty", "", bytes("a-lofty")));
    ASSERT_TRUE(store->put_crm_connection(b.id, "hubspot", "", bytes("b-hub")));
    ASSERT_TRUE(store->put_rollout_config(b.id, "{}", bytes("b-rollout")));
    // An attacker with write access to the file copies A's sealed columns over B's and over A's lofty.
    exec_raw("UPDATE crm_connections SET (key_id, nonce, ciphertext) = (SELECT key_id, nonce, ciphertext"
             " FROM crm_connections WHERE tenant_id = '" + a.id + "' AND crm_type = 'hubspot')"
             " WHERE (tenant_id = '" + b.id + "' AND crm_type = 'hubspot')"
             " OR (tenant_id = '" + a.id + "' AND crm_type = 'lofty')");
    exec_raw("UPDATE rollout_configs SET (key_id, nonce, ciphertext) = (SELECT key_id, nonce, ciphertext"
             " FROM crm_connections WHERE tenant_id = '" + a.id + "' AND crm_type = 'hubspot')");
    auto moved = store->get_crm_connection(b.id, "hubspot");
    ASSERT_FALSE(moved);
    EXPECT_EQ(moved.error().code, ErrorCode::crypto);
    EXPECT_NE(moved.error().message.find("tenant '" + b.id + "' crm_connection/hubspot"),
              std::string::npos) << moved.error().message;
    EXPECT_EQ(store->get_crm_connection(a.id, "lofty").error().code, ErrorCode::crypto);
    EXPECT_EQ(store->get_rollout_config(b.id).error().code, ErrorCode::crypto);
    EXPECT_EQ(store->get_crm_connection(a.id, "hubspot")->credential_key.text(), "a-hub");
}

TEST_F(Repositories, TamperedOrUnknownKeyRowsFailCleanly) {
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "", bytes("a-hub")));
    exec_raw("UPDATE crm_connections SET ciphertext = zeroblob(length(ciphertext))");
    auto r = store->get_crm_connection(a.id, "hubspot");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::crypto);
    EXPECT_NE(r.error().message.find("authentication failed"), std::string::npos);
    // A row naming a key the database does not have: SQLite lets the file's owner switch foreign keys off; on
    // PostgreSQL the service's role cannot, so that half is SQLite's alone.
    if (on_postgresql()) return;
    exec_raw("PRAGMA foreign_keys=OFF; UPDATE crm_connections SET key_id = 42");
    r = store->get_crm_connection(a.id, "hubspot");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::crypto);
    EXPECT_NE(r.error().message.find("data key 42"), std::string::npos) << r.error().message;
}

TEST_F(Repositories, NoSecretBytesOnDiskAfterDeleteAndCheckpoint) {
    SQLITE_ONLY();
    const std::string rollout_secret = "ROLLOUT-SECRET-7f3a9c1e";
    const std::string crm_secret = "CRM-CREDENTIAL-55d2b8aa";
    ASSERT_TRUE(store->put_rollout_config(a.id, "{}", bytes(rollout_secret)));
    ASSERT_TRUE(store->put_crm_connection(a.id, "hubspot", "", bytes(crm_secret)));
    std::vector<std::vector<unsigned char>> ciphertexts;
    {
        auto db = raw();
        Statement st = db->prepare("SELECT ciphertext FROM rollout_configs UNION ALL SELECT ciphertext FROM crm_connections");
        while (st.step()) ciphertexts.push_back(st.blob(0));
    }
    ASSERT_EQ(ciphertexts.size(), 2u);
    const std::string wal = db_path().string() + "-wal";
    auto scan = [&](bool expect_ciphertext) {
        for (const auto& f : {db_path(), std::filesystem::path(wal)}) {
            const auto content = rollout_mcp::test::read_file(f);
            EXPECT_FALSE(rollout_mcp::test::contains(content, rollout_secret)) << f;
            EXPECT_FALSE(rollout_mcp::test::contains(content, crm_secret)) << f;
            if (!expect_ciphertext) {
                for (const auto& ct : ciphertexts) EXPECT_FALSE(rollout_mcp::test::contains(content, ct)) << f;
            }
        }
    };
    scan(true);  // plaintext never reaches the files, not even the WAL
    ASSERT_TRUE(store->delete_rollout_config(a.id));
    ASSERT_TRUE(store->delete_crm_connection(a.id, "hubspot"));
    ASSERT_TRUE(store->checkpoint());
    EXPECT_EQ(std::filesystem::file_size(wal), 0u);
    scan(false);  // secure_delete + truncating checkpoint: not even the ciphertext survives
}

}  // namespace
}  // namespace rollout_mcp::storage::test
