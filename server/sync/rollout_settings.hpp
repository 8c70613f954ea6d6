// What configure_rollout stores for a team besides its secrets: the Rollout project, client id, endpoints and
// the team's time zone, as the JSON text of rollout_configs.settings.
#pragma once

#include "rollout/client.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp {

// What configure_rollout stores (secret part sealed separately).
struct RolloutSettings {
    std::string project_env_key;
    std::string client_id;                   // empty: `secret` is a pre-minted token
    rollout::RolloutEndpoints endpoints;
    std::string time_zone;                   // the team's IANA zone for local times; "" = none
    boost::json::object to_json() const;
    static std::optional<RolloutSettings> from_json(std::string_view text);
};

}  // namespace rollout_mcp
