// The session store's settings as the config file states them (one mapping for the server and its tests).
#pragma once

#include "server/app/config.hpp"
#include "server/mcp/session.hpp"

namespace rollout_mcp {

mcp::SessionStoreSettings session_store_settings(const Config& config);

}  // namespace rollout_mcp
