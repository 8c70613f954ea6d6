// One serving process per SQLite database: `serve` holds an exclusive advisory lock on `<database>.lock`
// (which holds its PID) for its whole life. The outbox's in-memory serialization and claims assume a single
// writer process; a second `serve` on the same file would run the same jobs twice. The admin commands do
// not take the lock: WAL lets them work beside the live server.
#pragma once

#include <string>

namespace rollout_mcp {

class ServeLock {
public:
    // Takes the lock (creating the file and its directory if needed) and writes this process's PID into it.
    // Throws std::runtime_error naming the PID of the holder when another process holds it.
    static ServeLock acquire(const std::string& database_path);

    ServeLock(ServeLock&& other) noexcept;
    ServeLock& operator=(ServeLock&&) = delete;
    ServeLock(const ServeLock&) = delete;
    ~ServeLock();   // closing the descriptor releases the lock (the file stays: unlinking it would race)

    const std::string& path() const { return path_; }

private:
    ServeLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_ = -1;
    std::string path_;
};

}  // namespace rollout_mcp
