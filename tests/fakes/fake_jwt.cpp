// HS512 JWT minting and verification for the fake Rollout (HMAC-SHA512 via OpenSSL, base64url without padding).
#include "fake_jwt.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <ctime>

namespace rollout_mcp::fake {
namespace json = boost::json;

namespace {
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string hmac_sha512(std::string_view key, std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int len = 0;
    HMAC(EVP_sha512(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out.data(), &len);
    return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::optional<json::object> parse_object(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}
}  // namespace

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                           (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    if (i + 1 == bytes.size()) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
    } else if (i + 2 == bytes.size()) {
        const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (char c : text) {
        if (c == '=') break;
        auto pos = kAlphabet.find(c);
        if (pos == std::string_view::npos) return std::nullopt;
        acc = (acc << 6) | static_cast<unsigned>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    if (bits >= 6) return std::nullopt;  // a single dangling character is not valid base64
    return out;
}

std::string mint_hs512_jwt(std::string_view secret, std::string_view sub, std::chrono::seconds ttl,
                           std::string_view iss) {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    json::object claims{{"iss", iss}, {"sub", sub}, {"iat", now}, {"exp", now + ttl.count()}};
    const std::string signing_input = base64url_encode(R"({"alg":"HS512","typ":"JWT"})") + "." +
                                      base64url_encode(json::serialize(claims));
    return signing_input + "." + base64url_encode(hmac_sha512(secret, signing_input));
}

boost::json::object peek_claims(std::string_view authorization) {
    constexpr std::string_view prefix = "Bearer ";
    if (authorization.size() <= prefix.size() || authorization.substr(0, prefix.size()) != prefix) return {};
    auto token = authorization.substr(prefix.size());
    auto d1 = token.find('.');
    auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos) return {};
    auto payload = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
    if (!payload) return {};
    auto obj = parse_object(*payload);
    return obj ? std::move(*obj) : json::object{};
}

JwtCheck verify_bearer(std::string_view authorization, std::string_view secret) {
    JwtCheck r;
    constexpr std::string_view prefix = "Bearer ";
    if (authorization.empty()) {
        r.error = "Unauthorized: missing Authorization header";
        return r;
    }
    if (authorization.size() <= prefix.size() || authorization.substr(0, prefix.size()) != prefix) {
        r.error = "Unauthorized: Authorization must be 'Bearer <jwt>'";
        return r;
    }
    auto token = authorization.substr(prefix.size());
    auto d1 = token.find('.');
    auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
        r.error = "Unauthorized: malformed JWT";
        return r;
    }
    auto header_json = base64url_decode(token.substr(0, d1));
    auto payload_json = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
    auto signature = base64url_decode(token.substr(d2 + 1));
    auto header = header_json ? parse_object(*header_json) : std::nullopt;
    auto claims = payload_json ? parse_object(*payload_json) : std::nullopt;
    if (!header || !claims || !signature) {
        r.error = "Unauthorized: malformed JWT";
        return r;
    }
    r.claims = *claims;
    auto alg = header->if_contains("alg");
    if (!alg || !alg->is_string() || alg->get_string() != "HS512") {
        r.error = "Unauthorized: JWT alg must be HS512";
        return r;
    }
    if (!secret.empty()) {
        const auto expected = hmac_sha512(secret, token.substr(0, d2));
        if (expected.size() != signature->size() ||
            CRYPTO_memcmp(expected.data(), signature->data(), expected.size()) != 0) {
            r.error = "Unauthorized: invalid JWT signature";
            return r;
        }
    }
    auto sub = claims->if_contains("sub");
    if (!sub || !sub->is_string() || sub->get_string().empty()) {
        r.error = "Unauthorized: JWT has no sub";
        return r;
    }
    auto exp = claims->if_contains("exp");
    if (!exp || !exp->is_number()) {
        r.error = "Unauthorized: JWT has no exp";
        return r;
    }
    boost::system::error_code ec;
    const auto exp_s = exp->to_number<double>(ec);
    if (ec || exp_s <= static_cast<double>(std::time(nullptr))) {
        r.error = "Unauthorized: JWT expired";
        return r;
    }
    r.ok = true;
    return r;
}

}  // namespace rollout_mcp::fake
