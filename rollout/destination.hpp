// Where an outbound request may go: URL parsing into an Endpoint (https anywhere, plain http only to
// loopback hosts), normalized origins, and the address policy that keeps teams off non-public networks
// (loopback, private, link-local, ...) unless the operator listed the origin. Sans-I/O except the resolver.
#pragma once

#include "errors.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::rollout {

// Parses an absolute URL and applies the transport policy (https anywhere; http only to loopback hosts).
// The host is lower-cased; an IP literal is in its canonical text form (IPv6 without brackets).
struct Endpoint {
    bool tls = true;
    std::string host;  // without IPv6 brackets
    std::string port;
    std::string target;  // path + query, at least "/"
    // The normalized origin "scheme://host:port" (IPv6 in brackets): what allowed_origins lists.
    std::string key() const;
};
Result<Endpoint> parse_endpoint(std::string_view url);

// The normalized origin of an absolute URL: lower-case scheme and host, explicit port, IPv6 in brackets,
// e.g. "HTTPS://Crm.Example.COM/api" -> "https://crm.example.com:443". Applies parse_endpoint's policy.
Result<std::string> origin_of(std::string_view url);

// False for every address a team must not reach on its own: loopback, private (10/8, 172.16/12,
// 192.168/16, fc00::/7), shared 100.64/10, link-local (169.254/16, fe80::/10), unspecified, multicast,
// broadcast, reserved 240/4, and IPv4 addresses embedded in IPv6 (mapped, compatible, NAT64, 6to4) that
// are any of those.
bool is_public_address(const boost::asio::ip::address& address);

// Host name -> addresses. Injectable so tests never query DNS and can map a name to any address.
using Resolver = std::function<boost::asio::awaitable<Result<std::vector<boost::asio::ip::tcp::endpoint>>>(
    std::string host, std::string port)>;

// The addresses to connect to for `endpoint`: its host resolved once with `resolver` (empty = Asio's
// resolver) before `deadline`, an IP literal taken as is. With `require_public`, a permanent Error (and no
// address) if ANY of them is not public: a name with one private answer could be steered to it.
boost::asio::awaitable<Result<std::vector<boost::asio::ip::tcp::endpoint>>> resolve_destination(
    Endpoint endpoint, bool require_public, Resolver resolver, std::chrono::steady_clock::time_point deadline);

// The refusal for an origin whose host resolved to `address` (permanent; names the origin, not a secret).
Error non_public_destination(const Endpoint& endpoint, const boost::asio::ip::address& address);

}  // namespace rollout_mcp::rollout
