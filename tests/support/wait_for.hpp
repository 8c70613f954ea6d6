// The tests' one polling helper, for a condition another thread (the server, a worker, a fake) makes true:
// checks `done` every `step` until it holds or `timeout` passes, and returns whether it held. Tests poll
// with this instead of sleeping a fixed time, so they are as fast as the machine and as patient as needed.
#pragma once

#include <chrono>
#include <thread>

namespace rollout_mcp::test {

template <class Condition>
bool wait_for(Condition&& done, std::chrono::milliseconds timeout = std::chrono::seconds(2),
              std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(step);
    }
    return true;
}

}  // namespace rollout_mcp::test
