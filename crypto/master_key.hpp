// Finding and loading the 32-byte master key at start-up (config file, env, systemd credential,
// generated development key) with the checks a key file deserves. All failures are MasterKeyError.
#pragma once

#include "crypto/secret_bytes.hpp"

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rollout_mcp::crypto {

// Start-up failure; the message names the source and the fix, never key bytes.
class MasterKeyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct MasterKeyOptions {
    std::string master_key_file;        // storage.master_key_file from the config; empty = not set
    std::filesystem::path data_dir;     // where the generated development key lives (master.key)
    bool bind_is_loopback = true;       // false: a configured key is mandatory
    // true (storage.backend = "postgresql"): a configured key is mandatory. Every instance sharing the
    // database must seal and open with the same key, and a generated key lives on one machine only.
    bool storage_is_postgresql = false;
};

struct MasterKey {
    SecretBytes key;                    // kKeyBytes
    std::string source;                 // e.g. "file /etc/rollout-mcp/master.key", "env ROLLOUT_MCP_MASTER_KEY"
    std::vector<std::string> warnings;  // log these loudly (development key, ignored env value)
};

// Sources, first match wins:
//   1. options.master_key_file, or env ROLLOUT_MCP_MASTER_KEY_FILE (both set and different: refused)
//   2. $CREDENTIALS_DIRECTORY/master_key (systemd LoadCredential=), when that file exists
//   3. env ROLLOUT_MCP_MASTER_KEY (standard base64 of 32 bytes)
//   4. loopback bind and SQLite storage only: <data_dir>/master.key, generated on first run
// ROLLOUT_MCP_MASTER_KEY is wiped and unset in every case, so child processes never inherit it.
// Key files: a regular file with no group/other permission bits, holding exactly 32 raw bytes or the
// 44-character standard base64 of 32 bytes (one trailing newline allowed).
MasterKey load_master_key(const MasterKeyOptions& options);

// The kind of a MasterKey::source without its path: "file", "systemd-credential", "environment",
// "development-key" (or "other"). For places any client can read (/readyz): paths are for operators only.
std::string_view master_key_kind(std::string_view source);

// Loads one key file with the checks above (used for `keys rewrap --new-master-key-file`).
MasterKey read_master_key_file(const std::filesystem::path& path);

// Creates `path` holding a new random key as base64 text, mode 0600, fsynced, atomically (a
// temporary file linked into place). Returns nullopt when `path` already exists.
std::optional<SecretBytes> create_master_key_file(const std::filesystem::path& path);

}  // namespace rollout_mcp::crypto
