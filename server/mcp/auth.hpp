// Who is calling: maps the Authorization header to a tenant (a real-estate team).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace rollout_mcp {

struct AuthOutcome {
    enum class Status { ok, denied, unavailable };   // unavailable: the key store could not answer
    Status status = Status::denied;
    std::string tenant;
};

class Authenticator {
public:
    virtual ~Authenticator() = default;
    // The tenant for this Authorization header value.
    virtual boost::asio::awaitable<AuthOutcome> authenticate(std::string_view authorization) = 0;
};

// auth.mode = "none" (loopback only): every request acts as one tenant, whatever it sends (`serve` passes
// the `default` team's id).
std::unique_ptr<Authenticator> make_single_tenant_auth(std::string tenant_id);

}  // namespace rollout_mcp
