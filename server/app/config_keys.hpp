// The table of config keys (section, key, where it lands in Config, bounds) that server/app/config.cpp loads
// from the TOML file and from ROLLOUT_MCP_<SECTION>_<KEY> overrides: one row per key, so a key cannot be
// read from one source and forgotten in the other.
#pragma once

#include "server/app/config.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace rollout_mcp::config_keys {

using Target = std::variant<std::string*, bool*, std::size_t*, unsigned*, std::uint16_t*, double*,
                            std::chrono::milliseconds*, std::chrono::seconds*, std::vector<std::string>*,
                            StorageBackend*>;

struct KeySpec {
    const char* section;
    const char* key;
    Target (*target)(Config&);
    std::uint64_t min = 0;
    std::uint64_t max = std::numeric_limits<std::uint32_t>::max();
    double fmin = 0;   // bounds of floating-point keys (min/max above are for integers)
    double fmax = 0;
};

// Every key, in the order config.example.toml documents them.
std::span<const KeySpec> all();

}  // namespace rollout_mcp::config_keys
