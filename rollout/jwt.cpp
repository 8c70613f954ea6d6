#include "jwt.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

namespace rollout_mcp::rollout {
namespace json = boost::json;

namespace {
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
}
}  // namespace

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(acc >> bits) & 0x3F];
        }
    }
    if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3F];
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const int v = decode_char(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return out;
}

std::string hmac_sha512(std::string_view key, std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int len = 0;
    HMAC(EVP_sha512(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), mac.data(), &len);
    return std::string(reinterpret_cast<const char*>(mac.data()), len);
}

std::string mint_hs512(const JwtClaims& claims, std::string_view secret) {
    const std::string header = base64url_encode(R"({"alg":"HS512","typ":"JWT"})");
    json::object payload;
    payload["iss"] = claims.iss;
    payload["sub"] = claims.sub;
    payload["iat"] = claims.iat;
    payload["exp"] = claims.exp;
    std::string signing_input = header + "." + base64url_encode(json::serialize(payload));
    const std::string sig = base64url_encode(hmac_sha512(secret, signing_input));
    return signing_input + "." + sig;
}

namespace {
// Exactly three non-empty segments of the base64url alphabet: the token goes into an Authorization header
// as it is, so any other byte (CR, LF, space) in any segment would be sent too.
bool compact_jws(std::string_view token) {
    int segments = 1;
    std::size_t run = 0;
    for (char c : token) {
        if (c == '.') {
            if (run == 0) return false;
            ++segments;
            run = 0;
            continue;
        }
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return false;
        ++run;
    }
    return segments == 3 && run > 0;
}
}  // namespace

std::optional<std::int64_t> jwt_expiry(std::string_view token) {
    if (!compact_jws(token)) return std::nullopt;
    const auto a = token.find('.');
    const auto b = token.find('.', a + 1);
    auto payload = base64url_decode(token.substr(a + 1, b - a - 1));
    if (!payload) return std::nullopt;
    boost::system::error_code ec;
    auto v = json::parse(*payload, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* exp = v.as_object().if_contains("exp");
    if (!exp) return std::nullopt;
    if (exp->is_int64()) return exp->get_int64();
    if (exp->is_uint64()) {
        if (exp->get_uint64() > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
        return static_cast<std::int64_t>(exp->get_uint64());
    }
    if (exp->is_double()) {
        const double d = exp->get_double();
        // Out-of-range doubles (1e300, NaN) would be undefined behaviour to convert: not a usable exp.
        if (!(d >= 0 && d < 9.0e15)) return std::nullopt;
        return static_cast<std::int64_t>(d);
    }
    return std::nullopt;
}

TokenSource TokenSource::minted(MintedAuth auth) {
    TokenSource s;
    s.minted_ = true;
    s.auth_ = std::move(auth);
    return s;
}

TokenSource TokenSource::pre_minted(std::string token, std::chrono::seconds leeway) {
    TokenSource s;
    s.cached_exp_ = jwt_expiry(token).value_or(-1);
    s.cached_ = std::move(token);
    s.leeway_ = leeway;
    return s;
}

TokenSource::TokenSource(TokenSource&& other) noexcept
    : minted_(other.minted_), auth_(std::move(other.auth_)), cached_(std::move(other.cached_)),
      cached_exp_(other.cached_exp_), leeway_(other.leeway_) {}

Result<std::string> TokenSource::token(Clock::time_point now) {
    const std::int64_t t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    std::lock_guard lock(mu_);
    if (!minted_) {
        if (cached_.empty()) return Error{ErrorKind::auth, 0, "no Rollout auth token configured"};
        if (cached_exp_ < 0)
            return Error{ErrorKind::auth, 0, "the Rollout auth token is not a JWT (three base64url segments) with an exp claim"};
        if (cached_exp_ <= t + leeway_.count())
            return Error{ErrorKind::auth, 0,
                         "the Rollout auth token expired at " + std::to_string(cached_exp_) +
                             " (unix time); configure a new token or a client id + secret"};
        return cached_;
    }
    if (auth_.client_secret.empty()) return Error{ErrorKind::auth, 0, "no Rollout client secret configured"};
    if (cached_.empty() || cached_exp_ <= t + auth_.refresh_margin.count()) {
        JwtClaims c{auth_.client_id, auth_.subject, t, t + auth_.ttl.count()};
        cached_ = mint_hs512(c, auth_.client_secret);
        cached_exp_ = c.exp;
    }
    return cached_;
}

}  // namespace rollout_mcp::rollout
