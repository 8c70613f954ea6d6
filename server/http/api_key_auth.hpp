// API-key authentication (auth.mode = "api_key") backed by the credential store.
#pragma once

#include "server/mcp/auth.hpp"
#include "storage/storage_executor.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace rollout_mcp {

// Told the team's configuration version with every accepted key (storage/team_config.hpp), before the request
// goes on: the sync side's cache of opened team settings drops an entry that is out of date.
using ConfigVersionObserver = std::function<void(const std::string& tenant, std::int64_t version)>;

std::shared_ptr<Authenticator> make_api_key_authenticator(StorageExecutor& storage,
                                                          ConfigVersionObserver on_config_version = {});

}  // namespace rollout_mcp
