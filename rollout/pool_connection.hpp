// One outbound connection of the HttpPool: plain or TLS over a Beast tcp_stream, with its read buffer and
// the time it became idle. Internal to rollout/ (http_pool.cpp and idle_connections.cpp).
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <memory>

namespace rollout_mcp::rollout {

struct PoolConnection {
    std::unique_ptr<boost::beast::tcp_stream> plain;
    std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls;
    boost::beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since;
    boost::beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }
};

}  // namespace rollout_mcp::rollout
