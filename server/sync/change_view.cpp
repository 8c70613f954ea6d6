// Client-facing views of the CRM change log, and Standard Webhooks signing (see change_view.hpp).
#include "server/sync/change_view.hpp"

#include "base/utc_time.hpp"

#include <boost/json/parse.hpp>
#include <sodium.h>

#include <charconv>
#include <vector>

namespace rollout_mcp {
namespace json = boost::json;

std::string change_cursor(std::int64_t seq) { return "c" + std::to_string(seq); }

std::optional<std::int64_t> parse_change_cursor(std::string_view cursor) {
    if (cursor.size() < 2 || cursor.size() > 19 || cursor[0] != 'c') return std::nullopt;
    std::int64_t seq = 0;
    const char* end = cursor.data() + cursor.size();
    for (const char* p = cursor.data() + 1; p != end; ++p)
        if (*p < '0' || *p > '9') return std::nullopt;
    auto [ptr, ec] = std::from_chars(cursor.data() + 1, end, seq);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return seq;
}

json::object change_json(const storage::CrmChange& c) {
    json::object o{{"changeId", c.id}, {"kind", c.kind}, {"crmType", c.crm_type}};
    if (!c.tour_id.empty()) o["tourId"] = c.tour_id;
    if (!c.visit_id.empty()) o["visitId"] = c.visit_id;
    if (!c.buyer_id.empty()) o["buyerId"] = c.buyer_id;
    if (!c.record_id.empty()) o["recordId"] = c.record_id;
    boost::system::error_code ec;
    auto fields = json::parse(c.fields_json, ec);
    o["fields"] = !ec && fields.is_object() ? std::move(fields) : json::value(json::object{});
    o["occurredAt"] = iso8601_utc_ms(c.occurred_at_ms);
    o["recordedAt"] = iso8601_utc_ms(c.recorded_at_ms);
    o["cursor"] = change_cursor(c.seq);
    return o;
}

json::object change_event(const storage::CrmChange& c) {
    return {{"eventId", c.id}, {"name", kCrmChangeEvent}, {"timestamp", iso8601_utc_ms(c.recorded_at_ms)},
            {"data", change_json(c)}, {"cursor", change_cursor(c.seq)}};
}

json::object change_schema() {
    json::array kinds;
    for (auto k : storage::kCrmChangeKinds) kinds.emplace_back(k);
    const json::object text{{"type", "string"}};
    return {{"type", "object"},
            {"properties", json::object{{"changeId", text}, {"kind", json::object{{"type", "string"}, {"enum", kinds}}},
                                        {"tourId", text}, {"visitId", text}, {"buyerId", text}, {"crmType", text},
                                        {"recordId", text}, {"fields", json::object{{"type", "object"}}},
                                        {"occurredAt", text}, {"recordedAt", text}, {"cursor", text}}},
            {"required", json::array{"changeId", "kind", "crmType", "fields", "occurredAt", "recordedAt", "cursor"}}};
}

Result<crypto::SecretBytes> parse_webhook_secret(std::string_view secret) {
    constexpr std::string_view prefix = "whsec_";
    // Nothing after the prefix is refused here too: an empty buffer would hand libsodium a null pointer.
    if (!secret.starts_with(prefix) || secret.size() == prefix.size() || secret.size() > prefix.size() + 128)
        return invalid_argument("secret: must be \"whsec_\" followed by base64 of 24 to 64 bytes");
    const std::string_view b64 = secret.substr(prefix.size());
    std::vector<unsigned char> raw(b64.size());
    std::size_t len = 0;
    const int rc = sodium_base642bin(raw.data(), raw.size(), b64.data(), b64.size(), nullptr, &len, nullptr,
                                     sodium_base64_VARIANT_ORIGINAL);
    if (rc != 0 || len < 24 || len > 64) {
        sodium_memzero(raw.data(), raw.size());
        return invalid_argument("secret: must be \"whsec_\" followed by base64 of 24 to 64 bytes");
    }
    auto key = crypto::SecretBytes::copy_of(std::span<const unsigned char>(raw.data(), len));
    sodium_memzero(raw.data(), raw.size());
    return key;
}

std::string webhook_signature(std::span<const unsigned char> key, std::string_view id, std::int64_t timestamp,
                              std::string_view body) {
    const std::string ts = std::to_string(timestamp);
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key.data(), key.size());
    const auto feed = [&state](std::string_view s) {
        crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(s.data()), s.size());
    };
    feed(id);
    feed(".");
    feed(ts);
    feed(".");
    feed(body);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
    char b64[sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    return std::string("v1,") + b64;
}

}  // namespace rollout_mcp
