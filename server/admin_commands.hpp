// Operator commands that work on the credential store directly: tenants, API keys, data keys.
#pragma once

#include "config.hpp"

#include <memory>
#include <string>

namespace rollout_mcp {

namespace storage {
class SqliteStorage;
}

// Loads the master key (as config and environment say) and opens the database; throws on failure.
std::unique_ptr<storage::SqliteStorage> open_storage(const Config& config);

struct AdminRequest {
    std::string command;         // "tenant create", "tenant list", "key issue", "key revoke",
                                 // "keys status", "keys rotate", "keys rewrap"
    std::string argument;        // tenant name or key prefix
    std::string new_master_key_file;
    std::size_t batch_size = 100;
};

// Runs one command, printing to stdout/stderr; returns the process exit code.
int run_admin_command(const Config& config, const AdminRequest& request);

}  // namespace rollout_mcp
