// Automations created through create_automation, by (team, name): what makes a repeated call return the
// automation it made the first time instead of creating a second one in Rollout. A row is reserved
// (automation_id "") before Rollout is asked and completed with Rollout's id after; a reservation left by
// a call whose answer was lost is resolved by looking the automation up in Rollout by name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rollout_mcp::storage {

struct AutomationRecord {
    std::string name;
    std::vector<unsigned char> spec_hash;   // BLAKE2b-256 of the canonical {name, trigger, action}
    std::string automation_id;              // "" while reserved (Rollout not yet known to have created it)
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
};

struct AutomationReservation {
    bool reserved_now = false;   // true: this call owns the new reservation; `existing` is empty
    AutomationRecord existing;   // otherwise: the row already there (maybe another spec, maybe still pending)
};

}  // namespace rollout_mcp::storage
