// API-key authentication for /mcp: each request's bearer token is checked against the store (keyed hash,
// constant-time compare, about 3 us) on the storage thread. No cache, so a key revoked by
// `rollout-mcp key revoke` (another process) stops working with the very next request. The same read returns
// the team's configuration version, handed to the observer.
#include "server/http/api_key_auth.hpp"

#include "base/ascii.hpp"
#include "server/app/log.hpp"

#include <sodium.h>

#include <array>
#include <cstring>

namespace rollout_mcp {
namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxBearerToken = 256;

std::string_view bearer_token(std::string_view header) {
    constexpr std::string_view scheme = "bearer ";
    if (header.size() <= scheme.size()) return {};
    if (!ascii_iequals(header.substr(0, scheme.size()), scheme)) return {};
    auto token = header.substr(scheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    return token.size() > kMaxBearerToken ? std::string_view{} : token;
}

class ApiKeyAuthenticator final : public Authenticator {
public:
    ApiKeyAuthenticator(StorageExecutor& storage, ConfigVersionObserver observer)
        : storage_(storage), observer_(std::move(observer)) {}

    asio::awaitable<AuthOutcome> authenticate(std::string_view authorization) override {
        const auto token = bearer_token(authorization);
        if (token.empty()) co_return AuthOutcome{};
        // The token is copied into this coroutine's frame (the header buffer may go while the check waits) and
        // wiped when the check is done, on every path. Not guarded memory: an API key is checked per request,
        // and a sodium_malloc costs an mmap and two mprotect calls (README "Sync path CPU").
        struct Presented {
            std::array<char, kMaxBearerToken> bytes;
            std::size_t size;
            ~Presented() { sodium_memzero(bytes.data(), bytes.size()); }
        } presented{{}, token.size()};
        std::memcpy(presented.bytes.data(), token.data(), token.size());
        const std::string_view copy(presented.bytes.data(), presented.size);
        auto result = co_await storage_.call_in(StorageExecutor::kAuthLane, &storage::Storage::authenticate, copy);
        if (result) {
            if (observer_) observer_(result->tenant_id, result->config_version);
            co_return AuthOutcome{AuthOutcome::Status::ok, result->tenant_id};
        }
        if (result.error().code == storage::ErrorCode::unauthenticated) co_return AuthOutcome{};
        log::warning("API key check failed", {{"error", result.error().message}});
        co_return AuthOutcome{AuthOutcome::Status::unavailable, {}};
    }

private:
    StorageExecutor& storage_;
    ConfigVersionObserver observer_;
};

}  // namespace

std::shared_ptr<Authenticator> make_api_key_authenticator(StorageExecutor& storage, ConfigVersionObserver on_config_version) {
    return std::make_shared<ApiKeyAuthenticator>(storage, std::move(on_config_version));
}

}  // namespace rollout_mcp
