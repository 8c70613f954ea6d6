// API-key authentication (auth.mode = "api_key") backed by the credential store.
#pragma once

#include "server/mcp/auth.hpp"
#include "storage/storage_executor.hpp"

#include <memory>

namespace rollout_mcp {

std::shared_ptr<Authenticator> make_api_key_authenticator(StorageExecutor& storage);

}  // namespace rollout_mcp
