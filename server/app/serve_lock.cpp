// ServeLock: flock(2) on <database>.lock. flock locks belong to the open file description, so the lock is
// released when the process exits for any reason (kill -9 included) and never outlives its holder.
#include "server/app/serve_lock.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace rollout_mcp {

namespace {

std::string holder_pid(int fd) {
    char buf[32] = {};
    const auto n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string pid(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return pid.empty() ? "unknown" : pid;
}

}  // namespace

ServeLock ServeLock::acquire(const std::string& database_path) {
    const std::string path = database_path + ".lock";
    const auto dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot open the lock file " + path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        const std::string pid = err == EWOULDBLOCK ? holder_pid(fd) : std::string();
        ::close(fd);
        if (err == EWOULDBLOCK)
            throw std::runtime_error("another rollout-mcp serve (PID " + pid + ") is using the database " +
                                     database_path + " (it holds " + path +
                                     "); one server per SQLite database: stop it first");
        throw std::runtime_error("cannot lock " + path + ": " + std::strerror(err));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        const int err = errno;
        ::close(fd);
        throw std::runtime_error("cannot write the lock file " + path + ": " + std::strerror(err));
    }
    return ServeLock(fd, path);
}

ServeLock::ServeLock(ServeLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }

ServeLock::~ServeLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace rollout_mcp
