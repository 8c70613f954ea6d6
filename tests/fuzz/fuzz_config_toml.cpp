// Fuzz target: the TOML config file plus ROLLOUT_MCP_* environment overrides, through load_config(path,
// environment) exactly as start-up runs it. Input: TOML text, optionally followed by a line "#ENV" and one
// NAME=VALUE per line. The TOML goes to one (unlinked) file in /dev/shm per process, rewritten per input.
// Properties: every bad input is a ConfigError (never another exception, crash or hang); a config that
// loads satisfies what validate() promises.
#include "base/loopback.hpp"
#include "server/app/config.hpp"
#include "server/app/postgresql_url.hpp"
#include "fuzz_common.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rollout_mcp;

using fuzz::fail;

// One unlinked file in /dev/shm (tmpfs), rewritten per input and read back through /proc/self/fd: the
// path load_config opens is real, and nothing is left behind however the process ends.
struct ConfigFile {
    int fd = -1;
    std::string path;
    ConfigFile() {
        const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
        const std::string name = std::string(dir) + "/rollout-mcp-fuzz-config-" + std::to_string(getpid()) + ".toml";
        fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) fail("cannot create " + name);
        ::unlink(name.c_str());
        path = "/proc/self/fd/" + std::to_string(fd);
    }
    void write(std::string_view text) const {
        if (::ftruncate(fd, 0) != 0) fail("cannot truncate the config file");
        std::size_t off = 0;
        while (off < text.size()) {
            const auto n = ::pwrite(fd, text.data() + off, text.size() - off, static_cast<off_t>(off));
            if (n <= 0) fail("cannot write the config file");
            off += static_cast<std::size_t>(n);
        }
    }
};

const ConfigFile& config_file() {
    static const ConfigFile* file = new ConfigFile;
    return *file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> env;
    if (auto marker = in.find("\n#ENV\n"); marker != std::string_view::npos) {
        auto rest = in.substr(marker + 6);
        in = in.substr(0, marker + 1);
        while (!rest.empty()) {
            const auto nl = rest.find('\n');
            env.emplace_back(rest.substr(0, nl));
            if (nl == std::string_view::npos) break;
            rest.remove_prefix(nl + 1);
        }
    }
    const auto& file = config_file();
    file.write(in);
    Config cfg;
    try {
        cfg = load_config(file.path, env);
    } catch (const ConfigError&) {
        return 0;
    } catch (const std::exception& e) {
        fail(std::string("load_config threw something other than ConfigError: ") + e.what());
    }
    if (cfg.server.mcp_path.empty() || cfg.server.mcp_path.front() != '/') fail("mcp_path without a leading '/'");
    if (cfg.server.bind.empty()) fail("empty bind");
    if (cfg.auth.mode != "api_key" && cfg.auth.mode != "none") fail("unknown auth.mode accepted");
    if (cfg.auth.mode == "none" && !is_loopback_host(cfg.server.bind)) fail("auth none on a non-loopback bind");
    if (cfg.storage.data_dir.empty() || cfg.storage.database.empty()) fail("empty storage paths");
    if (cfg.storage.backend == StorageBackend::postgresql && cfg.storage.postgresql_url.empty())
        fail("postgresql backend without storage.postgresql_url");
    // Only the environment override may carry a password.
    const bool url_from_env = std::any_of(env.begin(), env.end(), [](const std::string& e) {
        return e.rfind("ROLLOUT_MCP_STORAGE_POSTGRESQL_URL=", 0) == 0;
    });
    if (!url_from_env && postgresql_conninfo_has_password(cfg.storage.postgresql_url))
        fail("a password in the file's storage.postgresql_url was accepted");
    if (cfg.server.max_body_bytes < 1024 || cfg.server.max_header_bytes < 1024) fail("limit below its minimum");
    if (cfg.mcp.max_json_depth < 4 || cfg.mcp.max_batch < 1 || cfg.mcp.max_sessions < 1) fail("mcp limit below its minimum");
    for (const auto* list : {&cfg.server.allowed_hosts, &cfg.server.allowed_origins})
        for (const auto& entry : *list)
            for (unsigned char c : entry)
                if (c <= 0x20 || c >= 0x7f) fail("allowed host/origin with a control, space or non-ASCII byte");
    return 0;
}
