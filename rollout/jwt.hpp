// Rollout auth: HS512 JWTs minted locally from the client secret (iss = client id, sub = team id), or a
// pre-minted token whose exp is checked before use. TokenSource caches and refreshes; it is thread-safe.
#pragma once

#include "errors.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp::rollout {

std::string base64url_encode(std::string_view bytes);                  // RFC 4648 section 5, no padding
std::optional<std::string> base64url_decode(std::string_view text);    // padding tolerated; nullopt if invalid
std::string hmac_sha512(std::string_view key, std::string_view data);  // raw 64-byte MAC

struct JwtClaims {
    std::string iss;  // Rollout client id
    std::string sub;  // our team (tenant) id
    std::int64_t iat = 0;
    std::int64_t exp = 0;
};

// header {"alg":"HS512","typ":"JWT"} . claims . HMAC-SHA512(secret)
std::string mint_hs512(const JwtClaims& claims, std::string_view secret);

// The `exp` claim of a JWT (signature not checked: Rollout checks it). nullopt when the token is not a
// compact JWS (exactly three non-empty base64url segments) or has no numeric exp.
std::optional<std::int64_t> jwt_expiry(std::string_view token);

struct MintedAuth {
    std::string client_id;
    std::string client_secret;
    std::string subject;                          // team id
    std::chrono::seconds ttl{15 * 60};            // Rollout recommends 15 minutes
    std::chrono::seconds refresh_margin{60};      // mint a new token this long before exp
};

class TokenSource {
public:
    using Clock = std::chrono::system_clock;

    static TokenSource minted(MintedAuth auth);
    static TokenSource pre_minted(std::string token, std::chrono::seconds leeway = std::chrono::seconds{30});

    TokenSource(TokenSource&& other) noexcept;
    TokenSource& operator=(TokenSource&&) = delete;

    // A token valid at `now` (plus the margin), or ErrorKind::auth without any network call.
    Result<std::string> token(Clock::time_point now = Clock::now());

private:
    TokenSource() = default;
    std::mutex mu_;
    bool minted_ = false;
    MintedAuth auth_;
    std::string cached_;
    std::int64_t cached_exp_ = 0;
    std::chrono::seconds leeway_{30};
};

}  // namespace rollout_mcp::rollout
