// A tiny loopback HTTP/HTTPS server for the rollout/ tests: thread per connection, scripted replies,
// every request recorded with the id of the connection it came on, peak concurrency measured.
#pragma once

#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rollout_mcp::rollout::test {

struct StubRequest {
    std::string method;
    std::string target;                          // path + query
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    int connection = 0;                          // 1, 2, ... in accept order
    boost::json::value json() const;             // parsed body (null if empty)
};

struct StubReply {
    StubReply() = default;
    StubReply(unsigned s, std::string b = "{}", std::map<std::string, std::string> h = {})
        : status(s), body(std::move(b)), headers(std::move(h)) {}

    unsigned status = 200;
    std::string body = "{}";
    std::map<std::string, std::string> headers;
    std::chrono::milliseconds delay{0};  // before answering
    bool hang = false;                   // never answer (the connection is closed at stop())
    std::string trailing;                // raw bytes written right after the reply (a desynced stream)
};

struct StubOptions {
    std::string bind = "127.0.0.1";
    bool tls = false;
    std::string cert_pem, key_pem;
};

class StubServer {
public:
    using Handler = std::function<StubReply(const StubRequest&)>;
    explicit StubServer(Handler handler, StubOptions options = {});
    ~StubServer();

    std::uint16_t port() const { return port_; }
    std::string url() const;  // "http://127.0.0.1:PORT" (https with tls)
    std::vector<StubRequest> requests() const;
    int connections() const { return connections_.load(); }
    int peak_in_flight() const { return peak_.load(); }

private:
    void accept_loop();
    void serve(int id, std::shared_ptr<void> socket);
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Handler handler_;
    StubOptions options_;
    std::uint16_t port_ = 0;
    std::atomic<int> connections_{0}, in_flight_{0}, peak_{0};
    std::atomic<bool> stopping_{false};
    mutable std::mutex mu_;
    std::vector<StubRequest> requests_;
    std::vector<std::thread> threads_;
    std::thread acceptor_thread_;
};

}  // namespace rollout_mcp::rollout::test
