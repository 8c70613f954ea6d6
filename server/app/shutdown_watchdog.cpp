#include "server/app/shutdown_watchdog.hpp"

#include "server/app/log.hpp"

#include <cstdlib>

namespace rollout_mcp {

void ShutdownWatchdog::arm(std::chrono::milliseconds limit) {
    std::lock_guard lock(mu_);
    if (thread_.joinable() || done_) return;
    thread_ = std::thread([this, limit] {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
        log::warning("shutdown did not finish in time: exiting with work in flight (it is re-driven on the next start)",
                     {{"limit_ms", static_cast<std::int64_t>(limit.count())}});
        std::_Exit(0);
    });
}

void ShutdownWatchdog::disarm() {
    {
        std::lock_guard lock(mu_);
        done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace rollout_mcp
