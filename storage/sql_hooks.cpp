// SqlStorage: Rollout webhook routes and the durable inbox of verified deliveries (issue 20). A route is
// 32 random bytes in base64url (43 characters), returned once and stored only as a keyed BLAKE2b hash
// (the API-key hasher, domain-separated), so a copy of the database cannot be used to post deliveries.
#include "storage/sql_storage.hpp"

#include <sodium.h>

namespace rollout_mcp::storage {

using crypto::SecretBytes;
using detail::error;
using detail::guarded;

namespace {

constexpr std::string_view kRouteDomain = "rollout-mcp webhook route\n";
constexpr std::size_t kRouteBytes = 32;
constexpr std::size_t kRouteChars = 43;   // base64url of 32 bytes, no padding

bool route_shape_ok(std::string_view route) {
    if (route.size() != kRouteChars) return false;
    for (char c : route)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    return true;
}

}  // namespace

std::vector<unsigned char> SqlStorage::route_hash(std::string_view route) const {
    std::string input(kRouteDomain);
    input.append(route);
    const auto h = api_hasher_->hash(input);
    sodium_memzero(input.data(), input.size());   // it held the route
    return {h.begin(), h.end()};
}

Result<SecretBytes> SqlStorage::issue_hook_route(std::string_view tenant_id, std::string_view crm_type) {
    return guarded<SecretBytes>("issue webhook route", [&]() -> Result<SecretBytes> {
        Transaction tx(*db_);
        std::vector<unsigned char> fingerprint;
        {
            auto st = db_->cached(
                "SELECT credential_fingerprint FROM crm_connections WHERE tenant_id = ?1 AND crm_type = ?2");
            st->bind(1, tenant_id).bind(2, crm_type);
            if (!st->step() || st->is_null(0))
                return error(ErrorCode::not_found, "no CRM connection of this type for this tenant");
            fingerprint = st->blob(0);
        }
        SecretBytes raw = SecretBytes::random(kRouteBytes);
        SecretBytes route(kRouteChars + 1);   // sodium_bin2base64 writes a terminating NUL
        sodium_bin2base64(reinterpret_cast<char*>(route.mutable_view().data()), route.size(), raw.view().data(),
                          raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        SecretBytes out = SecretBytes::copy_of(route.view().first(kRouteChars));
        Statement del = db_->prepare("DELETE FROM hook_routes WHERE tenant_id = ?1 AND crm_type = ?2");
        del.bind(1, tenant_id).bind(2, crm_type);
        del.run();
        const auto hash = route_hash(out.text());
        Statement ins = db_->prepare(
            "INSERT INTO hook_routes(route_hash, tenant_id, crm_type, credential_fingerprint, created_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5)");
        ins.bind(1, std::span<const unsigned char>(hash)).bind(2, tenant_id).bind(3, crm_type);
        ins.bind(4, std::span<const unsigned char>(fingerprint)).bind(5, detail::now_seconds());
        ins.run();
        tx.commit();
        return out;
    });
}

Result<HookRoute> SqlStorage::find_hook_route(std::string_view route) {
    if (!route_shape_ok(route)) return error(ErrorCode::not_found, "unknown webhook route");
    const auto hash = route_hash(route);
    return guarded<HookRoute>("find webhook route", [&]() -> Result<HookRoute> {
        // The connection must still hold the credential the route was issued for.
        auto st = db_->cached(
            "SELECT r.tenant_id, r.crm_type, r.credential_fingerprint FROM hook_routes r"
            " JOIN crm_connections c ON c.tenant_id = r.tenant_id AND c.crm_type = r.crm_type"
            "  AND c.credential_fingerprint = r.credential_fingerprint"
            " WHERE r.route_hash = ?1");
        st->bind(1, std::span<const unsigned char>(hash));
        if (!st->step()) return error(ErrorCode::not_found, "unknown webhook route");
        return HookRoute{st->text(0), st->text(1), st->blob(2)};
    });
}

Result<bool> SqlStorage::record_hook_delivery(const HookRoute& route, const HookDelivery& delivery,
                                              std::int64_t now_ms) {
    if (delivery.event_id.empty() || delivery.event_id.size() > 200)
        return error(ErrorCode::invalid_argument, "eventId must be 1 to 200 characters");
    return guarded<bool>("record webhook delivery", [&]() -> Result<bool> {
        Transaction tx(*db_);
        {
            auto st = db_->cached(
                "SELECT 1 FROM crm_connections WHERE tenant_id = ?1 AND crm_type = ?2 AND credential_fingerprint = ?3");
            st->bind(1, route.tenant_id).bind(2, route.crm_type);
            st->bind(3, std::span<const unsigned char>(route.credential_fingerprint));
            if (!st->step()) return error(ErrorCode::not_found, "unknown webhook route");
        }
        // The unique (team, credential, eventId) decides: a redelivery inserts nothing, even when two
        // instances receive it at once (PostgreSQL waits for the first insert's transaction, then skips).
        auto ins = db_->cached(
            "INSERT INTO hook_inbox(tenant_id, crm_type, credential_fingerprint, event_id, event, event_created,"
            " resource_ids, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            " ON CONFLICT (tenant_id, credential_fingerprint, event_id) DO NOTHING");
        ins->bind(1, route.tenant_id).bind(2, route.crm_type);
        ins->bind(3, std::span<const unsigned char>(route.credential_fingerprint)).bind(4, delivery.event_id);
        ins->bind(5, delivery.event).bind(6, delivery.event_created).bind(7, delivery.resource_ids_json);
        ins->bind(8, now_ms);
        ins->run();
        const bool inserted = db_->changes() > 0;
        tx.commit();
        return inserted;
    });
}

Result<std::vector<HookInboxRow>> SqlStorage::list_hook_inbox(std::string_view tenant_id, std::size_t limit) {
    return guarded<std::vector<HookInboxRow>>("list webhook inbox", [&]() -> Result<std::vector<HookInboxRow>> {
        auto st = db_->cached(
            "SELECT id, crm_type, event_id, event, event_created, resource_ids, received_at FROM hook_inbox"
            " WHERE tenant_id = ?1 ORDER BY id LIMIT ?2");
        st->bind(1, tenant_id).bind(2, static_cast<std::int64_t>(limit));
        std::vector<HookInboxRow> out;
        while (st->step())
            out.push_back({st->int64(0), st->text(1), {st->text(2), st->text(3), st->text(4), st->text(5)},
                           st->int64(6)});
        return out;
    });
}

}  // namespace rollout_mcp::storage
