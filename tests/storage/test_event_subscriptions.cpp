// MCP Events webhook subscriptions in the store, on SQLite and PostgreSQL: the per-team cap, refresh by id, one
// claim at a time with a fencing token (a worker whose claim was lost cannot move the cursor nor drop the
// subscription), expiry, and the sealed secret opened only by a claim.
#include "tests/storage/storage_fixture.hpp"

namespace rollout_mcp::storage::test {
namespace {

class Subscriptions : public TwoTeamsTest {
protected:
    Result<EventSubscription> put(const Tenant& t, const std::string& id, std::int64_t now, std::int64_t expires,
                                  const std::string& url = "https://hooks.example.com/cb") {
        EventSubscription s;
        s.id = id;
        s.tenant_id = t.id;
        s.name = "crm.change";
        s.callback_url = url;
        s.expires_at_ms = expires;
        const std::string secret = "0123456789abcdef01234567";
        return store->put_event_subscription(s, bytes(secret), now);
    }
    void append(const Tenant& t) {
        CrmChange c;
        c.kind = "agent_note_added";
        c.crm_type = "gohighlevel";
        c.fields_json = R"({"note":"call back"})";
        ASSERT_TRUE(store->append_crm_change(t.id, c, 1));
    }
};

TEST_F(Subscriptions, StartAfterTheCurrentLogAndWaitForVerification) {
    append(a);
    append(a);
    auto s = put(a, "es_000000000001", 1'000, 100'000);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->delivered_through, 2) << "a new subscription delivers what comes next";
    EXPECT_FALSE(s->verified);
    auto due = store->due_event_subscriptions(1'000, 10);
    ASSERT_TRUE(due);
    EXPECT_EQ(*due, std::vector<std::string>{"es_000000000001"}) << "the challenge is due";
    auto claimed = store->claim_event_subscription("es_000000000001", 1'000, 61'000);
    ASSERT_TRUE(claimed && *claimed);
    EXPECT_EQ(std::string((*claimed)->secret.view().begin(), (*claimed)->secret.view().end()), "0123456789abcdef01234567");
    DeliveryProgress verified{2, true, 0, 0};
    ASSERT_TRUE(*store->record_event_delivery("es_000000000001", (*claimed)->claim_token, verified, true));
    EXPECT_TRUE(store->due_event_subscriptions(2'000, 10)->empty()) << "verified, nothing new";
    append(a);
    EXPECT_EQ(store->due_event_subscriptions(2'000, 10)->size(), 1u);
    append(b);
    EXPECT_EQ(store->due_event_subscriptions(2'000, 10)->size(), 1u) << "another team's change is not a's";
}

TEST_F(Subscriptions, OneClaimAtATimeAndALostClaimChangesNothing) {
    ASSERT_TRUE(put(a, "es_000000000002", 1'000, 1'000'000));
    auto first = store->claim_event_subscription("es_000000000002", 1'000, 5'000);
    ASSERT_TRUE(first && *first);
    auto again = store->claim_event_subscription("es_000000000002", 2'000, 6'000);
    ASSERT_TRUE(again);
    EXPECT_FALSE(*again) << "leased: a second worker gets nothing";
    auto taken = store->claim_event_subscription("es_000000000002", 5'000, 9'000);
    ASSERT_TRUE(taken && *taken) << "an expired lease is claimable again";
    EXPECT_NE((*taken)->claim_token, (*first)->claim_token);
    DeliveryProgress late{7, true, 0, 0};
    EXPECT_FALSE(*store->record_event_delivery("es_000000000002", (*first)->claim_token, late, true));
    EXPECT_FALSE(*store->drop_event_subscription("es_000000000002", (*first)->claim_token));
    EXPECT_TRUE(*store->drop_event_subscription("es_000000000002", (*taken)->claim_token));
    EXPECT_FALSE(store->delete_event_subscription(a.id, "es_000000000002")) << "dropped";
}

TEST_F(Subscriptions, RefreshKeepsTheCursorTheCapCountsLiveOnesAndExpiryPurges) {
    StorageLimits limits;
    limits.max_event_subscriptions_per_tenant = 2;
    store->set_limits(limits);
    ASSERT_TRUE(put(a, "es_000000000003", 1'000, 10'000));
    ASSERT_TRUE(put(a, "es_000000000004", 1'000, 10'000));
    auto over = put(a, "es_000000000005", 1'000, 10'000);
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().code, ErrorCode::limit_exceeded);
    EXPECT_NE(over.error().message.find("max_subscriptions_per_team"), std::string::npos);
    ASSERT_TRUE(put(b, "es_000000000006", 1'000, 10'000)) << "the cap is per team";
    auto refreshed = put(a, "es_000000000003", 2'000, 50'000);
    ASSERT_TRUE(refreshed) << "a refresh is never over the cap";
    EXPECT_EQ(refreshed->expires_at_ms, 50'000);
    auto stolen = put(b, "es_000000000003", 2'000, 50'000);
    ASSERT_FALSE(stolen) << "another team's id";
    EXPECT_EQ(store->delete_event_subscription(b.id, "es_000000000003").error().code, ErrorCode::not_found);
    auto purged = store->purge_expired_event_subscriptions(20'000);
    ASSERT_TRUE(purged);
    EXPECT_EQ(*purged, 2u) << "es_4 and b's es_6 expired; es_3 was refreshed";
    ASSERT_TRUE(put(a, "es_000000000005", 20'000, 90'000)) << "room again";
    EXPECT_FALSE(store->due_event_subscriptions(100'000, 10)->size()) << "expired ones are never due";
}

TEST_F(Subscriptions, SecretsAreSealedAndFollowKeyRotation) {
    ASSERT_TRUE(put(a, "es_000000000007", 1'000, 1'000'000));
    {
        auto db = raw();
        auto st = db->prepare("SELECT ciphertext FROM event_subscriptions WHERE id = 'es_000000000007'");
        ASSERT_TRUE(st.step());
        const auto ct = st.blob(0);
        const std::string plain = "0123456789abcdef01234567";
        EXPECT_EQ(std::search(ct.begin(), ct.end(), plain.begin(), plain.end()), ct.end());
    }
    ASSERT_TRUE(store->rotate_data_key());
    auto resealed = store->reseal_batch(100);
    ASSERT_TRUE(resealed);
    EXPECT_EQ(resealed->remaining, 0);
    ASSERT_TRUE(store->destroy_unused_keys());
    auto claimed = store->claim_event_subscription("es_000000000007", 1'000, 9'000);
    ASSERT_TRUE(claimed && *claimed) << (claimed ? "" : claimed.error().message);
}

}  // namespace
}  // namespace rollout_mcp::storage::test
