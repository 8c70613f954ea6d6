// SqlStorage: the sealed repositories (Rollout configs, CRM connections: capped per tenant, their
// ledger rows deleted with them) and re-sealing rows (those two and the outbox's payloads, shared and
// per-job) during data-key rotation.
#include "storage/sql_storage.hpp"

#include <algorithm>

namespace rollout_mcp::storage {

using crypto::KeyId;
using crypto::RowIdentity;
using crypto::SecretBytes;
using detail::error;
using detail::guarded;
using detail::kCrmKind;
using detail::kRolloutKind;
using detail::kRolloutProvider;
using detail::kSyncJobKind;
using detail::kSyncPayloadKind;
using detail::kEventSubscriptionKind;
using detail::now_seconds;

namespace detail {

bool valid_crm_type(std::string_view t) {
    if (t.empty() || t.size() > 64) return false;
    for (char c : t)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    return true;
}

}  // namespace detail

namespace {

Result<void> check_crm_type(std::string_view t) {
    if (detail::valid_crm_type(t)) return {};
    return error(ErrorCode::invalid_argument,
                            "crm type must be 1-64 characters of [a-z0-9_-] (canonical name)");
}

// A sealed row as read for re-sealing.
struct SealedRow {
    std::string tenant_id;
    std::string provider;
    KeyId key_id = 0;
    std::vector<unsigned char> nonce;
    std::vector<unsigned char> ciphertext;
};

}  // namespace

// The sealed plaintext of a Rollout config is the secret, or the secret, one NUL and the webhook secret:
// both are sealed, re-sealed and deleted together. Neither may hold a NUL (the tools' field rules admit
// printable ASCII only), so rows written before webhook secrets existed read back unchanged.
Result<void> SqlStorage::put_rollout_config(std::string_view tenant_id, std::string_view settings_json,
                                               std::span<const unsigned char> secret,
                                               std::span<const unsigned char> webhook_secret) {
    const auto has_nul = [](std::span<const unsigned char> b) {
        return std::find(b.begin(), b.end(), 0) != b.end();
    };
    if (has_nul(secret) || has_nul(webhook_secret))
        return error(ErrorCode::invalid_argument, "a Rollout secret must not contain a NUL byte");
    return guarded<void>("put rollout config", [&]() -> Result<void> {
        Transaction tx(*db_);
        if (auto t = require_tenant(tenant_id); !t) return t.error();
        if (auto k = follow_active_key(); !k) return k.error();
        {
            auto valid = db_->cached("SELECT json_valid(?1)");
            valid->bind(1, settings_json);
            if (!valid->step() || valid->int64(0) != 1)
                return error(ErrorCode::invalid_argument, "rollout settings must be valid JSON");
        }
        SecretBytes bundle(secret.size() + (webhook_secret.empty() ? 0 : 1 + webhook_secret.size()));
        auto out = bundle.mutable_view();
        std::copy(secret.begin(), secret.end(), out.begin());
        if (!webhook_secret.empty()) {
            out[secret.size()] = 0;
            std::copy(webhook_secret.begin(), webhook_secret.end(), out.begin() + secret.size() + 1);
        }
        const auto sealed = seal_row({tenant_id, kRolloutKind, kRolloutProvider}, bundle.view());
        Statement st = db_->prepare(
            "INSERT INTO rollout_configs(tenant_id, settings, key_id, nonce, ciphertext, updated_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            " ON CONFLICT(tenant_id) DO UPDATE SET settings = excluded.settings,"
            " key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext,"
            " updated_at = excluded.updated_at");
        st.bind(1, tenant_id).bind(2, settings_json).bind(3, std::int64_t{sealed.key_id});
        st.bind(4, sealed.nonce).bind(5, sealed.ciphertext).bind(6, now_seconds());
        st.run();
        tx.commit();
        return {};
    });
}

Result<RolloutConfig> SqlStorage::get_rollout_config(std::string_view tenant_id) {
    return guarded<RolloutConfig>("get rollout config", [&]() -> Result<RolloutConfig> {
        auto st = db_->cached(
            "SELECT settings, key_id, nonce, ciphertext, updated_at FROM rollout_configs WHERE tenant_id = ?1");
        st->bind(1, tenant_id);
        if (!st->step())
            return error(ErrorCode::not_found, "no Rollout configuration for this tenant");
        auto bundle = open_row({tenant_id, kRolloutKind, kRolloutProvider},
                               static_cast<KeyId>(st->int64(1)), st->blob(2), st->blob(3));
        if (!bundle) return bundle.error();
        const auto all = bundle->view();
        const auto nul = std::find(all.begin(), all.end(), 0);
        if (nul == all.end()) return RolloutConfig{st->text(0), std::move(*bundle), {}, st->int64(4)};
        const auto split = static_cast<std::size_t>(nul - all.begin());
        return RolloutConfig{st->text(0), SecretBytes::copy_of(all.first(split)),
                             SecretBytes::copy_of(all.subspan(split + 1)), st->int64(4)};
    });
}

Result<void> SqlStorage::delete_rollout_config(std::string_view tenant_id) {
    return guarded<void>("delete rollout config", [&]() -> Result<void> {
        Statement st = db_->prepare("DELETE FROM rollout_configs WHERE tenant_id = ?1");
        st.bind(1, tenant_id);
        st.run();
        if (db_->changes() == 0)
            return error(ErrorCode::not_found, "no Rollout configuration for this tenant");
        return {};
    });
}

Result<void> SqlStorage::put_crm_connection(std::string_view tenant_id, std::string_view crm_type,
                                               std::string_view label,
                                               std::span<const unsigned char> credential_key) {
    if (auto c = check_crm_type(crm_type); !c) return c;
    if (label.size() > 200)
        return error(ErrorCode::invalid_argument, "label is longer than 200 bytes");
    return guarded<void>("put crm connection", [&]() -> Result<void> {
        Transaction tx(*db_);
        db_->lock_for_transaction("crm connections " + std::string(tenant_id));   // the cap counts exactly
        if (auto t = require_tenant(tenant_id); !t) return t.error();
        if (auto k = follow_active_key(); !k) return k.error();
        {
            // Only a new CRM counts against the cap: updating an existing connection always works.
            auto st = db_->cached(
                "SELECT count(*), coalesce(sum(CASE WHEN crm_type = ?2 THEN 1 ELSE 0 END), 0) FROM crm_connections WHERE tenant_id = ?1");
            st->bind(1, tenant_id).bind(2, crm_type);
            const auto cap = limits_.max_crm_connections_per_tenant;
            if (st->step() && st->int64(1) == 0 && static_cast<std::size_t>(st->int64(0)) >= cap)
                return error(ErrorCode::limit_exceeded,
                                        "this team already has " + std::to_string(st->int64(0)) +
                                            " CRM connections, the most allowed ([rollout] "
                                            "max_crm_connections_per_team = " + std::to_string(cap) +
                                            "); remove one first");
        }
        const auto sealed = seal_row({tenant_id, kCrmKind, crm_type}, credential_key);
        const auto fingerprint = credential_fingerprint(credential_key);
        const std::int64_t now = now_seconds();
        {
            // The appointment type's id in the ledger is the old CRM account's: another credential looks it up
            // again (an id of one account may name another type in the next). The other rows stay: a re-connected
            // account keeps its ids, and a record gone answers "not found" and is made again.
            Statement drop = db_->prepare(
                "DELETE FROM sync_ledger WHERE tenant_id = ?1 AND crm_type = ?2 AND entity_kind = 'appointment_type'"
                " AND EXISTS (SELECT 1 FROM crm_connections WHERE tenant_id = ?1 AND crm_type = ?2"
                " AND credential_fingerprint <> ?3)");
            drop.bind(1, tenant_id).bind(2, crm_type).bind(3, std::span<const unsigned char>(fingerprint));
            drop.run();
        }
        Statement st = db_->prepare(
            "INSERT INTO crm_connections(tenant_id, crm_type, label, key_id, nonce, ciphertext,"
            " created_at, updated_at, credential_fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)"
            " ON CONFLICT(tenant_id, crm_type) DO UPDATE SET label = excluded.label,"
            " key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext,"
            " updated_at = excluded.updated_at, credential_fingerprint = excluded.credential_fingerprint");
        st.bind(1, tenant_id).bind(2, crm_type).bind(3, label).bind(4, std::int64_t{sealed.key_id});
        st.bind(5, sealed.nonce).bind(6, sealed.ciphertext).bind(7, now);
        st.bind(8, std::span<const unsigned char>(fingerprint));
        st.run();
        tx.commit();
        return {};
    });
}

Result<CrmConnection> SqlStorage::get_crm_connection(std::string_view tenant_id,
                                                        std::string_view crm_type) {
    return guarded<CrmConnection>("get crm connection", [&]() -> Result<CrmConnection> {
        auto st = db_->cached(
            "SELECT label, created_at, updated_at, key_id, nonce, ciphertext,"
            " EXISTS (SELECT 1 FROM crm_connections o WHERE o.credential_fingerprint = c.credential_fingerprint"
            "         AND o.tenant_id <> c.tenant_id)"
            " FROM crm_connections c WHERE tenant_id = ?1 AND crm_type = ?2");
        st->bind(1, tenant_id).bind(2, crm_type);
        if (!st->step())
            return error(ErrorCode::not_found,
                                    "no '" + std::string(crm_type) + "' connection for this tenant");
        auto secret = open_row({tenant_id, kCrmKind, crm_type}, static_cast<KeyId>(st->int64(3)),
                               st->blob(4), st->blob(5));
        if (!secret) return secret.error();
        return CrmConnection{{std::string(crm_type), st->text(0), st->int64(1), st->int64(2)},
                             std::move(*secret), st->int64(6) != 0, {}};
    });
}

Result<TeamConfigSnapshot> SqlStorage::get_team_config(std::string_view tenant_id) {
    return guarded<TeamConfigSnapshot>("get team config", [&]() -> Result<TeamConfigSnapshot> {
        TeamConfigSnapshot out;
        {
            auto st = db_->cached(   // first: see team_config.hpp
                "SELECT config_version, legacy_markers FROM tenants WHERE id = ?1");
            st->bind(1, tenant_id);
            if (!st->step()) return error(ErrorCode::not_found, "no such tenant");
            out.version = st->int64(0);
            out.legacy_markers = st->int64(1) != 0;
        }
        auto rollout = get_rollout_config(tenant_id);
        if (rollout) {
            out.rollout = std::move(*rollout);
        } else if (rollout.error().code == ErrorCode::crypto) {
            out.rollout = RolloutConfig{};
            out.rollout_unreadable = rollout.error().message;
        } else if (rollout.error().code != ErrorCode::not_found) {
            return rollout.error();
        }
        auto st = db_->cached(
            "SELECT crm_type, label, created_at, updated_at, key_id, nonce, ciphertext,"
            " EXISTS (SELECT 1 FROM crm_connections o WHERE o.credential_fingerprint = c.credential_fingerprint"
            "         AND o.tenant_id <> c.tenant_id)"
            " FROM crm_connections c WHERE tenant_id = ?1 ORDER BY crm_type");
        st->bind(1, tenant_id);
        while (st->step()) {
            std::string crm_type = st->text(0);
            auto secret = open_row({tenant_id, kCrmKind, crm_type}, static_cast<KeyId>(st->int64(4)),
                                   st->blob(5), st->blob(6));
            if (!secret && secret.error().code != ErrorCode::crypto) return secret.error();
            out.connections.push_back(CrmConnection{{std::move(crm_type), st->text(1), st->int64(2), st->int64(3)},
                                                    secret ? std::move(*secret) : crypto::SecretBytes{},
                                                    st->int64(7) != 0, secret ? std::string() : secret.error().message});
        }
        return out;
    });
}

Result<std::vector<CrmConnectionInfo>> SqlStorage::list_crm_connections(std::string_view tenant_id) {
    using Out = std::vector<CrmConnectionInfo>;
    return guarded<Out>("list crm connections", [&]() -> Result<Out> {
        Out out;
        Statement st = db_->prepare(
            "SELECT crm_type, label, created_at, updated_at FROM crm_connections WHERE tenant_id = ?1"
            " ORDER BY crm_type");
        st.bind(1, tenant_id);
        while (st.step()) out.push_back({st.text(0), st.text(1), st.int64(2), st.int64(3)});
        return out;
    });
}

Result<void> SqlStorage::delete_crm_connection(std::string_view tenant_id, std::string_view crm_type) {
    return guarded<void>("delete crm connection", [&]() -> Result<void> {
        Transaction tx(*db_);
        Statement st = db_->prepare("DELETE FROM crm_connections WHERE tenant_id = ?1 AND crm_type = ?2");
        st.bind(1, tenant_id).bind(2, crm_type);
        st.run();
        if (db_->changes() == 0)
            return error(ErrorCode::not_found,
                                    "no '" + std::string(crm_type) + "' connection for this tenant");
        // The CRM ids recorded for this connection go with it: a later connection may be another account.
        Statement ledger = db_->prepare("DELETE FROM sync_ledger WHERE tenant_id = ?1 AND crm_type = ?2");
        ledger.bind(1, tenant_id).bind(2, crm_type);
        ledger.run();
        tx.commit();
        return {};
    });
}

Result<ResealProgress> SqlStorage::reseal_batch(std::size_t max_rows) {
    return guarded<ResealProgress>("reseal", [&]() -> Result<ResealProgress> {
        Transaction tx(*db_);
        const auto followed = follow_active_key();
        if (!followed) return followed.error();
        const KeyId active = *followed;

        struct Table {
            std::string_view kind;
            const char* select;
            const char* update;
        };
        const Table tables[] = {
            {kRolloutKind,
             "SELECT tenant_id, 'rollout', key_id, nonce, ciphertext FROM rollout_configs"
             " WHERE key_id <> ?1 LIMIT ?2",
             // ?5 (the provider) is constant here; it keeps both tables' parameter layout the same.
             "UPDATE rollout_configs SET key_id = ?1, nonce = ?2, ciphertext = ?3"
             " WHERE tenant_id = ?4 AND ?5 = 'rollout' AND key_id = ?6 AND nonce = ?7"},
            {kCrmKind,
             "SELECT tenant_id, crm_type, key_id, nonce, ciphertext FROM crm_connections"
             " WHERE key_id <> ?1 LIMIT ?2",
             "UPDATE crm_connections SET key_id = ?1, nonce = ?2, ciphertext = ?3"
             " WHERE tenant_id = ?4 AND crm_type = ?5 AND key_id = ?6 AND nonce = ?7"},
            // A job's provider is its id. Finished jobs are resealed too: their rows pin the old key.
            // Shared payloads: the provider is the payload id.
            {kSyncPayloadKind,
             "SELECT tenant_id, id, key_id, nonce, ciphertext FROM sync_payloads WHERE key_id <> ?1 LIMIT ?2",
             "UPDATE sync_payloads SET key_id = ?1, nonce = ?2, ciphertext = ?3"
             " WHERE tenant_id = ?4 AND id = ?5 AND key_id = ?6 AND nonce = ?7"},
            // Events webhook secrets: the provider is the subscription id.
            {kEventSubscriptionKind,
             "SELECT tenant_id, id, key_id, nonce, ciphertext FROM event_subscriptions WHERE key_id <> ?1 LIMIT ?2",
             "UPDATE event_subscriptions SET key_id = ?1, nonce = ?2, ciphertext = ?3"
             " WHERE tenant_id = ?4 AND id = ?5 AND key_id = ?6 AND nonce = ?7"},
            // Per-job payloads written before shared ones (key_id is NULL for newer jobs).
            {kSyncJobKind,
             "SELECT tenant_id, id, key_id, nonce, ciphertext FROM sync_jobs WHERE key_id <> ?1 LIMIT ?2",
             "UPDATE sync_jobs SET key_id = ?1, nonce = ?2, ciphertext = ?3"
             " WHERE tenant_id = ?4 AND id = ?5 AND key_id = ?6 AND nonce = ?7"},
        };
        static_assert(kRolloutProvider == "rollout");

        ResealProgress progress;
        for (const Table& table : tables) {
            if (progress.resealed >= max_rows) break;
            // Read the batch first: updating a table while a SELECT on it is still stepping is unsafe.
            std::vector<SealedRow> rows;
            {
                Statement sel = db_->prepare(table.select);
                sel.bind(1, std::int64_t{active}).bind(2, static_cast<std::int64_t>(max_rows - progress.resealed));
                while (sel.step())
                    rows.push_back({sel.text(0), sel.text(1), static_cast<KeyId>(sel.int64(2)),
                                    sel.blob(3), sel.blob(4)});
            }
            Statement upd = db_->prepare(table.update);
            for (const SealedRow& r : rows) {
                const RowIdentity id{r.tenant_id, table.kind, r.provider};
                auto plain = open_row(id, r.key_id, r.nonce, r.ciphertext);
                if (!plain) return plain.error();  // rolls back: never skip a row silently
                const auto sealed = seal_row(id, plain->view());
                upd.bind(1, std::int64_t{sealed.key_id}).bind(2, sealed.nonce).bind(3, sealed.ciphertext);
                upd.bind(4, r.tenant_id).bind(5, r.provider).bind(6, std::int64_t{r.key_id}).bind(7, r.nonce);
                upd.run();
                // 0 changes: a concurrent write replaced the row since we read it; theirs wins.
                progress.resealed += static_cast<std::size_t>(db_->changes());
                upd.reset();
            }
        }
        Statement remaining = db_->prepare(
            "SELECT (SELECT count(*) FROM rollout_configs WHERE key_id <> ?1)"
            " + (SELECT count(*) FROM crm_connections WHERE key_id <> ?1)"
            " + (SELECT count(*) FROM sync_jobs WHERE key_id <> ?1)"
            " + (SELECT count(*) FROM sync_payloads WHERE key_id <> ?1)"
            " + (SELECT count(*) FROM event_subscriptions WHERE key_id <> ?1)");
        remaining.bind(1, std::int64_t{active});
        if (remaining.step()) progress.remaining = remaining.int64(0);
        tx.commit();
        return progress;
    });
}

}  // namespace rollout_mcp::storage
