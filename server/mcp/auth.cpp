// The authenticator of auth.mode = "none".
#include "server/mcp/auth.hpp"

namespace rollout_mcp {
namespace {

class SingleTenantAuth final : public Authenticator {
public:
    explicit SingleTenantAuth(std::string tenant_id) : tenant_id_(std::move(tenant_id)) {}
    boost::asio::awaitable<AuthOutcome> authenticate(std::string_view) override {
        co_return AuthOutcome{AuthOutcome::Status::ok, tenant_id_};
    }

private:
    const std::string tenant_id_;
};

}  // namespace

std::unique_ptr<Authenticator> make_single_tenant_auth(std::string tenant_id) {
    return std::make_unique<SingleTenantAuth>(std::move(tenant_id));
}

}  // namespace rollout_mcp
