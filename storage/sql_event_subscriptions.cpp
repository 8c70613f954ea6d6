// SqlStorage: MCP Events webhook subscriptions (storage/crm_changes.hpp; README, "Changes from the CRM"). The
// claim follows the outbox's (storage/sql_outbox_claims.cpp): compare-and-set with a lease and a fencing token,
// on PostgreSQL through FOR UPDATE SKIP LOCKED, so one instance at a time delivers a subscription's events and a
// worker that lost its claim can neither move the cursor nor drop the subscription.
#include "storage/sql_storage.hpp"

#include <limits>

namespace rollout_mcp::storage {

using crypto::KeyId;
using detail::error;
using detail::guarded;
using detail::kEventSubscriptionKind;

namespace {

// Live, due, not leased, and with something to do: the verification challenge, or changes after the cursor.
#define ROLLOUT_SUBSCRIPTION_CLAIMABLE \
    "s.expires_at > ?2 AND s.next_attempt_at <= ?2 AND (s.lease_until IS NULL OR s.lease_until <= ?2)" \
    " AND (s.verified = 0 OR s.delivered_through < coalesce((SELECT c.last_seq FROM crm_change_counters c" \
    " WHERE c.tenant_id = s.tenant_id), 0))"

constexpr const char* kSubscriptionColumns =
    "id, tenant_id, name, callback_url, created_at, expires_at, verified, delivered_through, attempts, next_attempt_at";

EventSubscription subscription_from(const Statement& st) {
    EventSubscription s;
    s.id = st.text(0);
    s.tenant_id = st.text(1);
    s.name = st.text(2);
    s.callback_url = st.text(3);
    s.created_at_ms = st.int64(4);
    s.expires_at_ms = st.int64(5);
    s.verified = st.int64(6) != 0;
    s.delivered_through = st.int64(7);
    s.attempts = st.int64(8);
    s.next_attempt_at_ms = st.int64(9);
    return s;
}

}  // namespace

Result<EventSubscription> SqlStorage::put_event_subscription(const EventSubscription& sub,
                                                             std::span<const unsigned char> secret, std::int64_t now_ms) {
    if (sub.id.size() < 8 || sub.id.size() > 64) return error(ErrorCode::invalid_argument, "subscription id: 8 to 64 bytes");
    if (sub.callback_url.size() > 2048) return error(ErrorCode::invalid_argument, "callbackUrl: over 2048 bytes");
    if (secret.empty()) return error(ErrorCode::invalid_argument, "secret: empty");
    return guarded<EventSubscription>("put event subscription", [&]() -> Result<EventSubscription> {
        Transaction tx(*db_);
        db_->lock_for_transaction("event subscriptions " + sub.tenant_id);   // the cap counts exactly
        if (auto t = require_tenant(sub.tenant_id); !t) return t.error();
        if (auto k = follow_active_key(); !k) return k.error();
        {
            auto st = db_->cached(
                "SELECT count(*), coalesce(sum(CASE WHEN id = ?2 THEN 1 ELSE 0 END), 0),"
                " coalesce(sum(CASE WHEN id = ?2 AND tenant_id <> ?1 THEN 1 ELSE 0 END), 0)"
                " FROM event_subscriptions WHERE (tenant_id = ?1 AND expires_at > ?3) OR id = ?2");
            st->bind(1, std::string_view(sub.tenant_id)).bind(2, std::string_view(sub.id)).bind(3, now_ms);
            const auto cap = limits_.max_event_subscriptions_per_tenant;
            if (st->step()) {
                if (st->int64(2) != 0) return error(ErrorCode::already_exists, "subscription id taken");
                if (st->int64(1) == 0 && static_cast<std::size_t>(st->int64(0)) >= cap)
                    return error(ErrorCode::limit_exceeded,
                                 "this team already has " + std::to_string(st->int64(0)) +
                                     " event subscriptions, the most allowed ([events] max_subscriptions_per_team = " +
                                     std::to_string(cap) + "); unsubscribe one first");
            }
        }
        std::int64_t head = 0;
        {
            auto st = db_->cached("SELECT last_seq FROM crm_change_counters WHERE tenant_id = ?1");
            st->bind(1, std::string_view(sub.tenant_id));
            if (st->step()) head = st->int64(0);
        }
        const auto sealed = seal_row({sub.tenant_id, kEventSubscriptionKind, sub.id}, secret);
        // A refresh keeps the cursor and the verification unless the callback changed (then it is checked again).
        auto st = db_->cached(
            "INSERT INTO event_subscriptions(id, tenant_id, name, callback_url, key_id, nonce, ciphertext, created_at,"
            " updated_at, expires_at, verified, delivered_through, attempts, next_attempt_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, 0, ?10, 0, 0)"
            " ON CONFLICT(id) DO UPDATE SET key_id = excluded.key_id, nonce = excluded.nonce,"
            " ciphertext = excluded.ciphertext, updated_at = excluded.updated_at, expires_at = excluded.expires_at,"
            " verified = CASE WHEN event_subscriptions.callback_url = excluded.callback_url"
            "  THEN event_subscriptions.verified ELSE 0 END,"
            " callback_url = excluded.callback_url, name = excluded.name");
        st->bind(1, std::string_view(sub.id)).bind(2, std::string_view(sub.tenant_id)).bind(3, std::string_view(sub.name));
        st->bind(4, std::string_view(sub.callback_url)).bind(5, std::int64_t{sealed.key_id}).bind(6, sealed.nonce);
        st->bind(7, sealed.ciphertext).bind(8, now_ms).bind(9, sub.expires_at_ms).bind(10, head);
        st->run();
        static const std::string read = std::string("SELECT ") + kSubscriptionColumns + " FROM event_subscriptions WHERE id = ?1";
        auto back = db_->cached(read.c_str());
        back->bind(1, std::string_view(sub.id));
        if (!back->step()) return error(ErrorCode::database, "the subscription was not stored");
        auto out = subscription_from(*back);
        back->reset();
        tx.commit();
        return out;
    });
}

Result<void> SqlStorage::delete_event_subscription(std::string_view tenant_id, std::string_view id) {
    return guarded<void>("delete event subscription", [&]() -> Result<void> {
        auto st = db_->cached("DELETE FROM event_subscriptions WHERE tenant_id = ?1 AND id = ?2");
        st->bind(1, tenant_id).bind(2, id);
        st->run();
        if (db_->changes() == 0) return error(ErrorCode::not_found, "no such subscription");
        return {};
    });
}

Result<std::vector<std::string>> SqlStorage::due_event_subscriptions(std::int64_t now_ms, std::size_t limit) {
    using Out = std::vector<std::string>;
    return guarded<Out>("due event subscriptions", [&]() -> Result<Out> {
        auto st = db_->cached("SELECT s.id FROM event_subscriptions s WHERE s.id <> ?1 AND " ROLLOUT_SUBSCRIPTION_CLAIMABLE
                              " ORDER BY s.next_attempt_at, s.id LIMIT ?3");
        st->bind(1, std::string_view("-")).bind(2, now_ms);   // ?1: the claim's id slot; "-" is never an id
        st->bind(3, static_cast<std::int64_t>(std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
        Out out;
        while (st->step()) out.push_back(st->text(0));
        return out;
    });
}

Result<std::optional<ClaimedSubscription>> SqlStorage::claim_event_subscription(std::string_view id, std::int64_t now_ms,
                                                                                std::int64_t lease_until_ms) {
    using Out = std::optional<ClaimedSubscription>;
    return guarded<Out>("claim event subscription", [&]() -> Result<Out> {
        Transaction tx(*db_);
        auto upd = db_->cached(
            db_->dialect() == Dialect::postgresql
                ? "WITH c AS (SELECT s.id FROM event_subscriptions s WHERE s.id = ?1 AND " ROLLOUT_SUBSCRIPTION_CLAIMABLE
                  " FOR UPDATE SKIP LOCKED)"
                  " UPDATE event_subscriptions SET lease_until = ?3, claim_token = claim_token + 1 FROM c"
                  " WHERE event_subscriptions.id = c.id"
                : "UPDATE event_subscriptions AS s SET lease_until = ?3, claim_token = claim_token + 1"
                  " WHERE s.id = ?1 AND " ROLLOUT_SUBSCRIPTION_CLAIMABLE);
        upd->bind(1, id).bind(2, now_ms).bind(3, lease_until_ms);
        upd->run();
        if (db_->changes() == 0) return Out{};
        static const std::string read = std::string("SELECT ") + kSubscriptionColumns +
                                        ", key_id, nonce, ciphertext, claim_token FROM event_subscriptions WHERE id = ?1";
        auto st = db_->cached(read.c_str());
        st->bind(1, id);
        if (!st->step()) return Out{};
        ClaimedSubscription claimed;
        claimed.subscription = subscription_from(*st);
        auto secret = open_row({claimed.subscription.tenant_id, kEventSubscriptionKind, claimed.subscription.id},
                               static_cast<KeyId>(st->int64(10)), st->blob(11), st->blob(12));
        if (!secret) return secret.error();
        claimed.secret = std::move(*secret);
        claimed.claim_token = st->int64(13);
        st->reset();
        tx.commit();
        return Out{std::move(claimed)};
    });
}

Result<bool> SqlStorage::record_event_delivery(std::string_view id, std::int64_t claim_token,
                                               const DeliveryProgress& p, bool release) {
    return guarded<bool>("record event delivery", [&]() -> Result<bool> {
        auto st = db_->cached(
            "UPDATE event_subscriptions SET delivered_through = ?3, verified = ?4, attempts = ?5, next_attempt_at = ?6,"
            " lease_until = CASE WHEN ?7 = 1 THEN NULL ELSE lease_until END WHERE id = ?1 AND claim_token = ?2");
        st->bind(1, id).bind(2, claim_token).bind(3, p.delivered_through).bind(4, std::int64_t{p.verified ? 1 : 0});
        st->bind(5, p.attempts).bind(6, p.next_attempt_at_ms).bind(7, std::int64_t{release ? 1 : 0});
        st->run();
        return db_->changes() == 1;
    });
}

Result<bool> SqlStorage::drop_event_subscription(std::string_view id, std::int64_t claim_token) {
    return guarded<bool>("drop event subscription", [&]() -> Result<bool> {
        auto st = db_->cached("DELETE FROM event_subscriptions WHERE id = ?1 AND claim_token = ?2");
        st->bind(1, id).bind(2, claim_token);
        st->run();
        return db_->changes() == 1;
    });
}

Result<std::size_t> SqlStorage::purge_expired_event_subscriptions(std::int64_t now_ms) {
    return guarded<std::size_t>("purge expired event subscriptions", [&]() -> Result<std::size_t> {
        auto st = db_->cached(
            "DELETE FROM event_subscriptions WHERE expires_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)");
        st->bind(1, now_ms);
        st->run();
        return static_cast<std::size_t>(db_->changes());
    });
}

#undef ROLLOUT_SUBSCRIPTION_CLAIMABLE

}  // namespace rollout_mcp::storage
