// HS512 JWTs as Rollout uses them (Rollout's API authentication): mint one for tests and verify one in the
// fake (signature with the client secret, alg, exp, sub). OpenSSL only; no Beast.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp::fake {

std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

// header {"alg":"HS512","typ":"JWT"}, claims {iss, sub, iat, exp = iat + ttl}; a negative ttl mints an expired token.
std::string mint_hs512_jwt(std::string_view secret, std::string_view sub, std::chrono::seconds ttl,
                           std::string_view iss = "fake-client-id");

struct JwtCheck {
    bool ok = false;
    std::string error;              // why it was refused, for the 401 errorMessage
    boost::json::object claims;     // decoded payload (also filled when the signature was not checked)
};

// Verifies `Authorization: Bearer <jwt>`. An empty secret skips the signature check (demo mode) but still
// requires alg HS512, a string `sub` and an `exp` in the future.
JwtCheck verify_bearer(std::string_view authorization, std::string_view secret);

// The payload of a Bearer JWT without any check (for the request log); empty object when not a JWT.
boost::json::object peek_claims(std::string_view authorization);

}  // namespace rollout_mcp::fake
