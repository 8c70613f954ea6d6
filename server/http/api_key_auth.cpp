// API-key authentication for /mcp: each request's bearer token is checked against the store (keyed hash,
// constant-time compare, about 3 us) on the storage thread. No cache, so a key revoked by
// `rollout-mcp key revoke` (another process) stops working with the very next request.
#include "server/http/api_key_auth.hpp"

#include "base/ascii.hpp"
#include "server/app/log.hpp"

namespace rollout_mcp {
namespace asio = boost::asio;

namespace {

std::string_view bearer_token(std::string_view header) {
    constexpr std::string_view scheme = "bearer ";
    if (header.size() <= scheme.size()) return {};
    if (!ascii_iequals(header.substr(0, scheme.size()), scheme)) return {};
    auto token = header.substr(scheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    return token.size() > 256 ? std::string_view{} : token;
}

class ApiKeyAuthenticator final : public Authenticator {
public:
    explicit ApiKeyAuthenticator(StorageExecutor& storage) : storage_(storage) {}

    asio::awaitable<AuthOutcome> authenticate(std::string_view authorization) override {
        const auto token = bearer_token(authorization);
        if (token.empty()) co_return AuthOutcome{};
        // The token travels in locked memory and is wiped when the check is done.
        auto presented = std::make_shared<crypto::SecretBytes>(crypto::SecretBytes::copy_of(token));
        auto result = co_await storage_.call_in(StorageExecutor::kAuthLane, &storage::Storage::authenticate,
                                                presented->text());   // `presented` outlives the call
        if (result) co_return AuthOutcome{AuthOutcome::Status::ok, result->tenant_id};
        if (result.error().code == storage::ErrorCode::unauthenticated) co_return AuthOutcome{};
        log::warning("API key check failed", {{"error", result.error().message}});
        co_return AuthOutcome{AuthOutcome::Status::unavailable, {}};
    }

private:
    StorageExecutor& storage_;
};

}  // namespace

std::shared_ptr<Authenticator> make_api_key_authenticator(StorageExecutor& storage) {
    return std::make_shared<ApiKeyAuthenticator>(storage);
}

}  // namespace rollout_mcp
