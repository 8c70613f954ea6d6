// Operator commands that work on the store directly: tenants, API keys, data keys, the sync outbox.
#pragma once

#include "server/app/config.hpp"

#include <memory>
#include <string>

namespace rollout_mcp {

namespace storage {
class SqlStorage;
}

// Loads the master key (as config and environment say) and opens the database; throws on failure.
std::unique_ptr<storage::SqlStorage> open_storage(const Config& config);

struct AdminRequest {
    std::string command;         // "tenant create", "tenant list", "key issue", "key revoke",
                                 // "keys status", "keys rotate", "keys rewrap",
                                 // "outbox list", "outbox retry", "outbox stats"
    std::string argument;        // tenant name or key prefix
    std::string new_master_key_file;
    std::size_t batch_size = 100;
    // outbox list|retry|stats filters
    std::string tenant;          // team name
    std::string status;          // queued | running | succeeded | failed | dead
    std::string job;
    std::string tour;
    std::size_t limit = 50;
    bool json = false;           // one JSON object per line instead of a table
};

// Runs one command, printing to stdout/stderr; returns the process exit code.
int run_admin_command(const Config& config, const AdminRequest& request);
// `outbox list|retry|stats` (outbox_commands.cpp).
int run_outbox_command(storage::SqlStorage& storage, const AdminRequest& request);

}  // namespace rollout_mcp
