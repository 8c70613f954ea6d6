// Short maintenance tasks run every N on the I/O threads (readiness refresh, last-use flush), and ended
// at shutdown so the io_context can run dry (docs/ARCHITECTURE.md, "Lifetime and shutdown").
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace rollout_mcp {

class PeriodicTasks {
public:
    explicit PeriodicTasks(boost::asio::any_io_executor io);
    ~PeriodicTasks();
    PeriodicTasks(const PeriodicTasks&) = delete;
    PeriodicTasks& operator=(const PeriodicTasks&) = delete;

    // Runs `task` every `period` until stop() (keep it short and non-blocking: post storage work).
    void every(std::chrono::milliseconds period, std::function<void()> task);
    // Ends every task's wait now; no task runs afterwards. Safe from any thread; idempotent.
    void stop();

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace rollout_mcp
