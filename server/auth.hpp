// Who is calling: maps the Authorization header to a tenant (a real-estate team).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp {

class Authenticator {
public:
    virtual ~Authenticator() = default;
    // The tenant id for this header value, or nullopt when it does not authenticate.
    virtual boost::asio::awaitable<std::optional<std::string>> authenticate(std::string_view authorization) = 0;
};

// auth.mode = "none" (loopback only): every request acts as the `default` tenant.
std::unique_ptr<Authenticator> make_no_auth();

}  // namespace rollout_mcp
