#include "raw_listener.hpp"

#include "support/wait_for.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace rollout_mcp::rollout::test {

RawListener::RawListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0)
        throw std::runtime_error("bind/listen");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
}

RawListener::~RawListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
}

void RawListener::run() {
    while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        ++busy_;
        std::string data;
        bool answered = false;
        auto last = std::chrono::steady_clock::now();
        while (!stop_ && std::chrono::steady_clock::now() - last < std::chrono::milliseconds{300}) {
            pollfd q{c, POLLIN, 0};
            if (::poll(&q, 1, 20) <= 0) continue;
            char buf[4096];
            const auto n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0) break;  // the client closed
            data.append(buf, static_cast<std::size_t>(n));
            last = std::chrono::steady_clock::now();
            if (!answered && data.find("\r\n\r\n") != std::string::npos) {
                static constexpr char reply[] =
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
                (void)!::send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
                answered = true;
            }
        }
        ::close(c);
        {
            std::lock_guard lock(mu_);
            connections_.push_back(std::move(data));
        }
        --busy_;
    }
}

std::vector<std::string> RawListener::received() {
    // A connection still being read is waited for (at most its 300 ms idle limit, plus a margin).
    rollout_mcp::test::wait_for([this] { return busy_ == 0; }, std::chrono::seconds{2}, std::chrono::milliseconds{5});
    std::lock_guard lock(mu_);
    return connections_;
}

std::string RawListener::all_bytes() {
    std::string out;
    for (const auto& c : received()) out += c;
    return out;
}

}  // namespace rollout_mcp::rollout::test
