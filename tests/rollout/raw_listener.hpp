// A raw loopback TCP listener for the injection tests: it records every byte each connection sends, with
// no HTTP parsing that could hide a smuggled line. When it has seen the end of a request header it answers
// one small 200 reply with Connection: close, then keeps reading until the client closes or 300 ms pass
// without a byte, so a second, pipelined request would be captured too.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rollout_mcp::rollout::test {

class RawListener {
public:
    RawListener();
    ~RawListener();
    RawListener(const RawListener&) = delete;
    RawListener& operator=(const RawListener&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // What each accepted connection sent, in accept order. Waits until every accepted connection is done.
    std::vector<std::string> received();
    std::string all_bytes();  // received(), concatenated

private:
    void run();
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> busy_{0};
    std::mutex mu_;
    std::vector<std::string> connections_;
    std::thread thread_;
};

}  // namespace rollout_mcp::rollout::test
