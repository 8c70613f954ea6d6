#include "crypto/master_key.hpp"

#include "crypto/encoding.hpp"
#include "crypto/keyring.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace rollout_mcp::crypto {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEnvFile = "ROLLOUT_MCP_MASTER_KEY_FILE";
constexpr const char* kEnvKey = "ROLLOUT_MCP_MASTER_KEY";
constexpr std::size_t kBase64KeyChars = 44;

std::string errno_text(int err) { return std::strerror(err); }

// Closes on every path so a failed check does not leak the descriptor.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

private:
    int fd_;
};

std::string_view strip_newline(std::string_view s) {
    if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
}

// Accepts exactly 32 raw bytes or 44 base64 characters (+ optional newline); anything else is refused
// without echoing the content.
std::optional<SecretBytes> parse_key_material(std::span<const unsigned char> raw) {
    if (raw.size() == kKeyBytes) return SecretBytes::copy_of(raw);
    const std::string_view text =
        strip_newline({reinterpret_cast<const char*>(raw.data()), raw.size()});
    if (text.size() != kBase64KeyChars) return std::nullopt;
    return secret_from_base64(text, kKeyBytes, Base64::standard);
}

MasterKey read_key_file(const fs::path& path, std::string source) {
    // Check the opened descriptor (fstat), not the path, so the file cannot be swapped in between.
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (fd.get() < 0)
        throw MasterKeyError("cannot open master key " + source + ": " + errno_text(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        throw MasterKeyError("cannot stat master key " + source + ": " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) throw MasterKeyError("master key " + source + " is not a regular file");
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw MasterKeyError("master key " + source + " has mode " + mode +
                             ", readable or writable by group or others; refusing it "
                             "(run: chmod 600 " + path.string() + ")");
    }
    const std::string format_hint =
        " must hold exactly 32 raw bytes or 44 characters of standard base64 (32 bytes)";
    if (st.st_size > static_cast<off_t>(kBase64KeyChars + 2))
        throw MasterKeyError("master key " + source + format_hint);
    SecretBytes buf(kBase64KeyChars + 3);  // one byte more than any valid file
    std::size_t got = 0;
    while (got < buf.size()) {
        const ssize_t n = ::read(fd.get(), buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw MasterKeyError("cannot read master key " + source + ": " + errno_text(errno));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    auto key = parse_key_material(buf.view().first(got));
    if (!key) throw MasterKeyError("master key " + source + format_hint);
    return MasterKey{std::move(*key), std::move(source), {}};
}

// Reads ROLLOUT_MCP_MASTER_KEY, then wipes it in place and unsets it. Wiping matters: unsetenv only
// drops the pointer, and the bytes would stay in the initial environment block (/proc/<pid>/environ).
std::optional<SecretBytes> take_env_key(bool& was_set) {
    char* value = std::getenv(kEnvKey);
    was_set = value != nullptr;
    if (value == nullptr) return std::nullopt;
    const std::size_t len = std::strlen(value);
    std::optional<SecretBytes> key =
        secret_from_base64(strip_newline({value, len}), kKeyBytes, Base64::standard);
    sodium_memzero(value, len);
    ::unsetenv(kEnvKey);
    return key;
}

bool file_exists(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

void fsync_dir(const fs::path& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() >= 0) ::fsync(fd.get());
}

void write_all(int fd, const unsigned char* p, std::size_t n, const fs::path& path) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw MasterKeyError("cannot write " + path.string() + ": " + errno_text(errno));
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

MasterKey development_key(const MasterKeyOptions& options) {
    // Checked first, and even when <data_dir>/master.key exists: a key found on one machine would
    // leave the other instances unable to open what this one seals.
    if (options.storage_is_postgresql)
        throw MasterKeyError(
            "no master key configured, and storage.backend is \"postgresql\": PostgreSQL needs a configured "
            "master key, the same on every instance (no development key is generated); set "
            "storage.master_key_file, ROLLOUT_MCP_MASTER_KEY_FILE, $CREDENTIALS_DIRECTORY/master_key (a "
            "systemd credential), or ROLLOUT_MCP_MASTER_KEY");
    if (!options.bind_is_loopback)
        throw MasterKeyError(
            "no master key configured, and the server binds to a non-loopback address: set "
            "storage.master_key_file, ROLLOUT_MCP_MASTER_KEY_FILE, a systemd credential named "
            "master_key, or ROLLOUT_MCP_MASTER_KEY (a generated development key is only used on "
            "loopback)");
    if (options.data_dir.empty())
        throw MasterKeyError("no master key configured and no data directory for a development key");
    const fs::path path = options.data_dir / "master.key";
    const std::string source = "generated development key file " + path.string();
    const std::string advice = "; back it up with the database, and configure storage.master_key_file "
                               "for anything but local development";
    if (!file_exists(path)) {
        // A new data directory is private (0700): it will hold the key and the database.
        std::error_code ec;
        if (options.data_dir.has_parent_path()) fs::create_directories(options.data_dir.parent_path(), ec);
        if (ec || (::mkdir(options.data_dir.c_str(), 0700) != 0 && errno != EEXIST))
            throw MasterKeyError("cannot create data directory " + options.data_dir.string() + ": " +
                                 (ec ? ec.message() : errno_text(errno)));
        if (auto key = create_master_key_file(path)) {
            return MasterKey{std::move(*key), source,
                             {"no master key configured: generated a development master key at " +
                              path.string() + advice}};
        }
    }
    MasterKey mk = read_key_file(path, source);
    mk.warnings.push_back("no master key configured: using the development master key at " +
                          path.string() + advice);
    return mk;
}

}  // namespace

std::string_view master_key_kind(std::string_view source) {
    auto starts = [source](std::string_view p) { return source.substr(0, p.size()) == p; };
    if (starts("generated development key")) return "development-key";
    if (starts("systemd credential")) return "systemd-credential";
    if (starts("env ")) return "environment";
    if (starts("file ")) return "file";
    return "other";
}

MasterKey read_master_key_file(const fs::path& path) {
    ensure_sodium();
    return read_key_file(path, "file " + path.string());
}

MasterKey load_master_key(const MasterKeyOptions& options) {
    ensure_sodium();
    bool env_key_set = false;
    std::optional<SecretBytes> env_key = take_env_key(env_key_set);
    const std::string ignored_env =
        std::string(kEnvKey) + " is set but ignored because a higher-priority key source is configured";

    const char* env_file = std::getenv(kEnvFile);
    const std::string env_path = env_file != nullptr ? env_file : "";
    std::optional<MasterKey> chosen;
    if (!options.master_key_file.empty() && !env_path.empty() &&
        fs::path(options.master_key_file) != fs::path(env_path))
        throw MasterKeyError("both storage.master_key_file (" + options.master_key_file + ") and " +
                             kEnvFile + " (" + env_path + ") are set; set only one");
    if (!options.master_key_file.empty()) {
        chosen = read_key_file(options.master_key_file, "file " + options.master_key_file +
                                                            " (storage.master_key_file)");
    } else if (!env_path.empty()) {
        chosen = read_key_file(env_path, "file " + env_path + " (" + kEnvFile + ")");
    } else if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
               creds != nullptr && *creds != '\0' && file_exists(fs::path(creds) / "master_key")) {
        const fs::path p = fs::path(creds) / "master_key";
        chosen = read_key_file(p, "systemd credential " + p.string());
    } else if (env_key_set) {
        if (!env_key)
            throw MasterKeyError(std::string("env ") + kEnvKey +
                                 " must be the standard base64 encoding of exactly 32 bytes");
        return MasterKey{std::move(*env_key), std::string("env ") + kEnvKey, {}};
    } else {
        return development_key(options);
    }
    if (env_key_set) chosen->warnings.push_back(ignored_env);
    return std::move(*chosen);
}

std::optional<SecretBytes> create_master_key_file(const fs::path& path) {
    ensure_sodium();
    SecretBytes key = SecretBytes::random(kKeyBytes);
    SecretBytes text = secret_to_base64(key.view(), Base64::standard);
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    const fs::path tmp = dir / ("." + path.filename().string() + ".tmp." +
                                to_base64(rnd, Base64::url_unpadded));
    {
        Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (fd.get() < 0)
            throw MasterKeyError("cannot create " + tmp.string() + ": " + errno_text(errno));
        try {
            write_all(fd.get(), text.data(), text.size(), tmp);
            const unsigned char nl = '\n';
            write_all(fd.get(), &nl, 1, tmp);
            if (::fsync(fd.get()) != 0)
                throw MasterKeyError("cannot fsync " + tmp.string() + ": " + errno_text(errno));
        } catch (...) {
            ::unlink(tmp.c_str());
            throw;
        }
    }
    // link() fails if the name exists, so two processes starting together cannot both create a key.
    const int rc = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
        if (err == EEXIST) return std::nullopt;
        throw MasterKeyError("cannot create " + path.string() + ": " + errno_text(err));
    }
    fsync_dir(dir);
    return key;
}

}  // namespace rollout_mcp::crypto
