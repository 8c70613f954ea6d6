// SqlStorage: the tenants and API-key repositories.
#include "storage/sql_storage.hpp"

#include <sodium.h>

namespace rollout_mcp::storage {

using detail::error;
using detail::guarded;
using detail::now_seconds;

namespace {

bool valid_tenant_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
    }
    return true;
}

std::string new_tenant_id() { return detail::random_id("t_"); }

std::string_view normalize_prefix(std::string_view prefix) {
    if (prefix.starts_with(crypto::kApiKeyTag)) prefix.remove_prefix(crypto::kApiKeyTag.size());
    return prefix;
}

Tenant tenant_from(const Statement& st) { return Tenant{st.text(0), st.text(1), st.int64(2)}; }

ApiKeyInfo key_info_from(const Statement& st) {
    return ApiKeyInfo{st.text(0), st.text(1), st.int64(2), st.optional_int64(3), st.optional_int64(4)};
}

constexpr const char* kKeyColumns =
    "SELECT tenant_id, prefix, created_at, revoked_at, last_used_at FROM api_keys ";

}  // namespace

Result<void> SqlStorage::require_tenant(std::string_view tenant_id) {
    auto st = db_->cached("SELECT 1 FROM tenants WHERE id = ?1");
    st->bind(1, tenant_id);
    if (!st->step())
        return error(ErrorCode::not_found, "no tenant with id '" + std::string(tenant_id) + "'");
    return {};
}

Result<Tenant> SqlStorage::create_tenant(std::string_view name) {
    if (!valid_tenant_name(name))
        return error(ErrorCode::invalid_argument,
                                "tenant names are 1-64 characters: letters, digits, '.', '_', '-', "
                                "starting with a letter or digit");
    return guarded<Tenant>("create tenant", [&]() -> Result<Tenant> {
        Tenant t{new_tenant_id(), std::string(name), now_seconds()};
        Statement st = db_->prepare("INSERT INTO tenants(id, name, created_at) VALUES (?1, ?2, ?3)");
        st.bind(1, t.id).bind(2, t.name).bind(3, t.created_at);
        try {
            st.run();
        } catch (const SqlError& e) {
            if (e.is_constraint())
                return error(ErrorCode::already_exists,
                                        "tenant '" + t.name + "' already exists");
            throw;
        }
        return t;
    });
}

Result<std::vector<Tenant>> SqlStorage::list_tenants() {
    return guarded<std::vector<Tenant>>("list tenants", [&]() -> Result<std::vector<Tenant>> {
        std::vector<Tenant> out;
        Statement st = db_->prepare("SELECT id, name, created_at FROM tenants ORDER BY name");
        while (st.step()) out.push_back(tenant_from(st));
        return out;
    });
}

Result<Tenant> SqlStorage::find_tenant_by_name(std::string_view name) {
    return guarded<Tenant>("find tenant", [&]() -> Result<Tenant> {
        auto st = db_->cached("SELECT id, name, created_at FROM tenants WHERE name = ?1");
        st->bind(1, name);
        if (!st->step())
            return error(ErrorCode::not_found, "no tenant named '" + std::string(name) + "'");
        return tenant_from(*st);
    });
}

Result<Tenant> SqlStorage::find_tenant(std::string_view tenant_id) {
    return guarded<Tenant>("find tenant", [&]() -> Result<Tenant> {
        auto st = db_->cached("SELECT id, name, created_at FROM tenants WHERE id = ?1");
        st->bind(1, tenant_id);
        if (!st->step())
            return 
                error(ErrorCode::not_found, "no tenant with id '" + std::string(tenant_id) + "'");
        return tenant_from(*st);
    });
}

Result<IssuedApiKey> SqlStorage::issue_api_key(std::string_view tenant_id) {
    return guarded<IssuedApiKey>("issue API key", [&]() -> Result<IssuedApiKey> {
        if (auto t = require_tenant(tenant_id); !t) return t.error();
        // A 48-bit prefix collision is unlikely but possible; a fresh key resolves it.
        for (int attempt = 0; attempt < 4; ++attempt) {
            crypto::NewApiKey k = api_hasher_->generate();
            Statement st = db_->prepare(
                "INSERT INTO api_keys(tenant_id, prefix, hash, created_at) VALUES (?1, ?2, ?3, ?4)");
            st.bind(1, tenant_id).bind(2, k.prefix).bind(3, k.hash).bind(4, now_seconds());
            try {
                st.run();
            } catch (const SqlError& e) {
                if (e.kind() == SqlError::Kind::unique) continue;
                throw;
            }
            return IssuedApiKey{std::move(k.key), std::move(k.prefix)};
        }
        return error(ErrorCode::already_exists, "could not find a free API key prefix");
    });
}

Result<void> SqlStorage::revoke_api_key(std::string_view tenant_id, std::string_view prefix) {
    prefix = normalize_prefix(prefix);
    return guarded<void>("revoke API key", [&]() -> Result<void> {
        Statement st = db_->prepare(
            "UPDATE api_keys SET revoked_at = ?3 WHERE tenant_id = ?1 AND prefix = ?2 AND revoked_at IS NULL");
        st.bind(1, tenant_id).bind(2, prefix).bind(3, now_seconds());
        st.run();
        if (db_->changes() == 1) return {};
        Statement exists = db_->prepare("SELECT 1 FROM api_keys WHERE tenant_id = ?1 AND prefix = ?2");
        exists.bind(1, tenant_id).bind(2, prefix);
        if (exists.step()) return {};  // already revoked: revoking is idempotent
        return error(ErrorCode::not_found,
                                "tenant has no API key with prefix '" + std::string(prefix) + "'");
    });
}

Result<std::vector<ApiKeyInfo>> SqlStorage::list_api_keys(std::string_view tenant_id) {
    return guarded<std::vector<ApiKeyInfo>>("list API keys", [&]() -> Result<std::vector<ApiKeyInfo>> {
        std::vector<ApiKeyInfo> out;
        Statement st = db_->prepare(std::string(kKeyColumns) + "WHERE tenant_id = ?1 ORDER BY created_at, id");
        st.bind(1, tenant_id);
        while (st.step()) out.push_back(key_info_from(st));
        return out;
    });
}

Result<ApiKeyInfo> SqlStorage::find_api_key(std::string_view prefix) {
    prefix = normalize_prefix(prefix);
    return guarded<ApiKeyInfo>("find API key", [&]() -> Result<ApiKeyInfo> {
        Statement st = db_->prepare(std::string(kKeyColumns) + "WHERE prefix = ?1");
        st.bind(1, prefix);
        if (!st.step())
            return error(ErrorCode::not_found, "no API key with prefix '" + std::string(prefix) + "'");
        return key_info_from(st);
    });
}

Result<AuthenticatedKey> SqlStorage::authenticate(std::string_view presented_key) {
    // One message for every failure: a caller must not learn whether a prefix or tenant exists.
    const auto denied = [] {
        return error(ErrorCode::unauthenticated, "invalid or revoked API key");
    };
    const auto prefix = crypto::api_key_prefix(presented_key);
    if (!prefix) return denied();
    return guarded<AuthenticatedKey>("authenticate", [&]() -> Result<AuthenticatedKey> {
        // The team's configuration version rides along (storage/team_config.hpp): no extra trip.
        auto st = db_->cached(
            "SELECT k.tenant_id, k.hash, k.revoked_at, t.config_version FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
            " WHERE k.prefix = ?1");
        st->bind(1, *prefix);
        if (!st->step()) {
            (void)api_hasher_->hash(presented_key);  // same work as a real check: keep timing flat
            return denied();
        }
        const bool ok = api_hasher_->matches(presented_key, st->blob(1));
        if (!ok || !st->is_null(2)) return denied();
        AuthenticatedKey out{st->text(0), std::string(*prefix), st->int64(3)};
        last_used_[out.prefix] = now_seconds();
        return out;
    });
}

Result<std::size_t> SqlStorage::flush_last_used() {
    if (last_used_.empty()) return std::size_t{0};
    return guarded<std::size_t>("flush API key last use", [&]() -> Result<std::size_t> {
        Transaction tx(*db_);
        Statement st = db_->prepare(
            "UPDATE api_keys SET last_used_at = CASE WHEN coalesce(last_used_at, 0) > ?2 THEN last_used_at ELSE ?2 END WHERE prefix = ?1");
        for (const auto& [prefix, when] : last_used_) {
            st.bind(1, prefix).bind(2, when);
            st.run();
            st.reset();
        }
        tx.commit();
        const std::size_t n = last_used_.size();
        last_used_.clear();  // only after commit: a failed flush is retried next time
        return n;
    });
}

}  // namespace rollout_mcp::storage
