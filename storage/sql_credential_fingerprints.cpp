// Fingerprints of CRM credential ids (crm_connections.credential_fingerprint): whether two teams stored the
// same CRM account decides whether markers written before they named the team may be trusted
// (docs/ARCHITECTURE.md, "Buyer identity"). Computed with the API-key hashing key, which neither data-key rotation
// nor a new master key changes, over a domain-separated input.
#include "storage/sql_storage.hpp"

#include <sodium.h>

namespace rollout_mcp::storage {

using crypto::KeyId;

namespace {
constexpr std::string_view kDomain = "rollout-mcp crm credential fingerprint\n";
}

std::vector<unsigned char> SqlStorage::credential_fingerprint(std::span<const unsigned char> credential) const {
    std::string input(kDomain);
    input.append(reinterpret_cast<const char*>(credential.data()), credential.size());
    const auto h = api_hasher_->hash(input);
    sodium_memzero(input.data(), input.size());   // it held the credential id
    return {h.begin(), h.end()};
}

void SqlStorage::backfill_credential_fingerprints() {
    Transaction tx(*db_);
    struct Row {
        std::string tenant, crm;
        KeyId key_id;
        std::vector<unsigned char> nonce, ciphertext;
    };
    std::vector<Row> rows;
    {
        Statement st = db_->prepare(
            "SELECT tenant_id, crm_type, key_id, nonce, ciphertext FROM crm_connections"
            " WHERE credential_fingerprint IS NULL");
        while (st.step())
            rows.push_back({st.text(0), st.text(1), static_cast<KeyId>(st.int64(2)), st.blob(3), st.blob(4)});
    }
    if (rows.empty()) return;
    Statement upd = db_->prepare(
        "UPDATE crm_connections SET credential_fingerprint = ?3 WHERE tenant_id = ?1 AND crm_type = ?2");
    for (const Row& r : rows) {
        auto secret = open_row({r.tenant, detail::kCrmKind, r.crm}, r.key_id, r.nonce, r.ciphertext);
        if (!secret) continue;   // an unreadable row stays without one (and is never treated as shared)
        const auto fp = credential_fingerprint(secret->view());
        upd.bind(1, r.tenant).bind(2, r.crm).bind(3, std::span<const unsigned char>(fp));
        upd.run();
        upd.reset();
    }
    tx.commit();
}

}  // namespace rollout_mcp::storage
