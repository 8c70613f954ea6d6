// Shared test helpers for crypto/ and storage/ tests: a private temporary directory, environment
// scrubbing, and byte searches over files.
#pragma once

#include "crypto/secret_bytes.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::test {

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "rmcp-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, std::string_view bytes, mode_t mode) {
    std::filesystem::remove(p);
    {
        std::ofstream out(p, std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    ::chmod(p.c_str(), mode);
}

inline std::vector<unsigned char> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline bool contains(const std::vector<unsigned char>& hay, std::span<const unsigned char> needle) {
    if (needle.empty()) return false;
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

inline bool contains(const std::vector<unsigned char>& hay, std::string_view needle) {
    return contains(hay, std::span<const unsigned char>(
                             reinterpret_cast<const unsigned char*>(needle.data()), needle.size()));
}

inline mode_t file_mode(const std::filesystem::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
}

inline std::span<const unsigned char> bytes(std::string_view s) {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// Master-key sources come from the environment; every test starts from a clean one.
inline void clear_key_environment() {
    ::unsetenv("ROLLOUT_MCP_MASTER_KEY");
    ::unsetenv("ROLLOUT_MCP_MASTER_KEY_FILE");
    ::unsetenv("CREDENTIALS_DIRECTORY");
}

}  // namespace rollout_mcp::test
