// Tamper-proof `requestState` for input-required results (MCP 2026-07-28 MRTR, SEP-2322:
// https://modelcontextprotocol.io/specification/2026-07-28/changelog). The client echoes the string back
// unchanged; the server keeps nothing between rounds. A token is base64url(payload) "." base64url(HMAC-SHA256)
// where the payload binds the team, the tool, an expiry and the tool's own JSON; any other team, another tool,
// a late or altered token fails verification. The key is derived from the master key (so every instance on one
// database accepts every other's tokens) and never leaves this object.
#pragma once

#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp::mcp {

class RequestStateCodec {
public:
    static constexpr std::size_t kKeyBytes = 32;
    using Clock = std::chrono::system_clock;

    // `key`: kKeyBytes of secret (copied, wiped on destruction). `ttl`: how long a token stays valid.
    RequestStateCodec(std::string_view key, std::chrono::seconds ttl);
    ~RequestStateCodec();
    RequestStateCodec(const RequestStateCodec&) = delete;
    RequestStateCodec& operator=(const RequestStateCodec&) = delete;

    std::string seal(std::string_view tenant, std::string_view tool, const boost::json::value& state,
                     Clock::time_point now = Clock::now()) const;
    // The tool's state, or nullopt when the token is malformed, altered, expired or not this team's and tool's.
    std::optional<boost::json::value> open(std::string_view tenant, std::string_view tool, std::string_view token,
                                           Clock::time_point now = Clock::now()) const;

private:
    std::string mac(std::string_view payload) const;

    std::array<unsigned char, kKeyBytes> key_{};
    std::chrono::seconds ttl_;
};

}  // namespace rollout_mcp::mcp
