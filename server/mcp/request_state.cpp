// requestState tokens (see request_state.hpp).
#include "server/mcp/request_state.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace rollout_mcp::mcp {
namespace json = boost::json;

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned n = (unsigned(static_cast<unsigned char>(in[i])) << 16) |
                           (unsigned(static_cast<unsigned char>(in[i + 1])) << 8) | static_cast<unsigned char>(in[i + 2]);
        out += kAlphabet[n >> 18];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += kAlphabet[n & 63];
    }
    if (i < in.size()) {
        unsigned n = unsigned(static_cast<unsigned char>(in[i])) << 16;
        if (i + 1 < in.size()) n |= unsigned(static_cast<unsigned char>(in[i + 1])) << 8;
        out += kAlphabet[n >> 18];
        out += kAlphabet[(n >> 12) & 63];
        if (i + 1 < in.size()) out += kAlphabet[(n >> 6) & 63];
    }
    return out;
}

std::optional<std::string> unbase64url(std::string_view in) {
    if (in.size() % 4 == 1) return std::nullopt;
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (char c : in) {
        const char* p = c ? std::char_traits<char>::find(kAlphabet, 64, c) : nullptr;
        if (!p) return std::nullopt;
        acc = (acc << 6) | static_cast<unsigned>(p - kAlphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    if (acc & ((1u << bits) - 1)) return std::nullopt;   // non-canonical trailing bits
    return out;
}

std::int64_t unix_seconds(RequestStateCodec::Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

RequestStateCodec::RequestStateCodec(std::string_view key, std::chrono::seconds ttl) : ttl_(ttl) {
    if (key.size() != kKeyBytes) throw std::invalid_argument("requestState key must be 32 bytes");
    std::copy(key.begin(), key.end(), key_.begin());
}

RequestStateCodec::~RequestStateCodec() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string RequestStateCodec::mac(std::string_view payload) const {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(payload.data()),
         payload.size(), out, &len);
    return base64url(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::string RequestStateCodec::seal(std::string_view tenant, std::string_view tool, const json::value& state,
                                    Clock::time_point now) const {
    const json::object payload{{"t", tenant}, {"n", tool}, {"e", unix_seconds(now + ttl_)}, {"s", state}};
    const std::string body = base64url(json::serialize(payload));
    return body + "." + mac(body);
}

std::optional<json::value> RequestStateCodec::open(std::string_view tenant, std::string_view tool, std::string_view token,
                                                   Clock::time_point now) const {
    if (token.size() > 16 * 1024) return std::nullopt;
    const auto dot = token.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    const auto body = token.substr(0, dot);
    const std::string expected = mac(body);
    const auto given = token.substr(dot + 1);   // the whole rest: trailing bytes make it unequal
    if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0)
        return std::nullopt;
    auto text = unbase64url(body);
    if (!text) return std::nullopt;
    json::error_code ec;
    auto payload = json::parse(*text, ec);
    if (ec || !payload.is_object()) return std::nullopt;
    const auto& o = payload.get_object();
    const auto* t = o.if_contains("t");
    const auto* n = o.if_contains("n");
    const auto* e = o.if_contains("e");
    const auto* s = o.if_contains("s");
    if (!t || !n || !e || !s || !t->is_string() || !n->is_string() || !e->is_int64()) return std::nullopt;
    if (t->get_string() != tenant || n->get_string() != tool || e->get_int64() < unix_seconds(now)) return std::nullopt;
    return *s;
}

}  // namespace rollout_mcp::mcp
