// ShutdownWatchdog: ends the process if a graceful shutdown overruns its limit (server/main.cpp arms it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace rollout_mcp {

// The last resort of a shutdown: if the io_context has not run dry `limit` after the shutdown began (a
// Rollout call of an abandoned attempt still waiting on a hung CRM, or a bug), the process ends here.
// Nothing is lost: every write is committed as it happens, and an abandoned attempt's claim expires and
// the next start re-drives it with recover (docs/ARCHITECTURE.md, "The outbox state machine").
class ShutdownWatchdog {
public:
    ~ShutdownWatchdog() { disarm(); }
    void arm(std::chrono::milliseconds limit);
    void disarm();

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace rollout_mcp
