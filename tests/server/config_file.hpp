// Helpers of the config tests: a temporary TOML file, and the ConfigError message of a load.
#pragma once

#include "server/app/config.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace rollout_mcp::test {

class ConfigFile {
public:
    explicit ConfigFile(const std::string& text) {
        static std::atomic<int> n{0};
        path_ = (std::filesystem::temp_directory_path() /
                 ("rollout-mcp-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".toml"))
                    .string();
        std::ofstream(path_) << text;
    }
    ~ConfigFile() { std::filesystem::remove(path_); }
    ConfigFile(const ConfigFile&) = delete;
    ConfigFile& operator=(const ConfigFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// The ConfigError message of loading `text` (with `env`), or "" when it loads.
inline std::string error_of(const std::string& text, const std::vector<std::string>& env = {}) {
    ConfigFile file(text);
    try {
        load_config(file.path(), env);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return {};
}

// The same with no file: defaults and `env` only.
inline std::string env_error_of(const std::vector<std::string>& env) {
    try {
        load_config("", env);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return {};
}

}  // namespace rollout_mcp::test
