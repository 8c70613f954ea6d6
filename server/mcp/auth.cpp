// The trivial authenticator for the embedded default.
#include "server/mcp/auth.hpp"

namespace rollout_mcp {
namespace {

class NoAuth final : public Authenticator {
public:
    boost::asio::awaitable<AuthOutcome> authenticate(std::string_view) override {
        co_return AuthOutcome{AuthOutcome::Status::ok, "default"};
    }
};

}  // namespace

std::unique_ptr<Authenticator> make_no_auth() { return std::make_unique<NoAuth>(); }

}  // namespace rollout_mcp
