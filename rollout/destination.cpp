// URL -> Endpoint (with the loopback-only http rule), normalized origins, and the public-address
// classifier behind the SSRF policy.
#include "destination.hpp"
#include "base/ascii.hpp"
#include "base/use_nothrow.hpp"

#include "base/loopback.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <cctype>

namespace rollout_mcp::rollout {
namespace asio = boost::asio;
namespace ip = asio::ip;
using tcp = ip::tcp;

namespace {

bool v4_is_public(const ip::address_v4& a) {
    const std::uint32_t v = a.to_uint();
    struct Range {
        std::uint32_t net;
        int bits;
    };
    static constexpr std::array<Range, 10> blocked = {{
        {0x00000000, 8},   // 0.0.0.0/8 "this network", unspecified
        {0x0A000000, 8},   // 10/8 private
        {0x64400000, 10},  // 100.64/10 shared address space (carrier-grade NAT)
        {0x7F000000, 8},   // 127/8 loopback
        {0xA9FE0000, 16},  // 169.254/16 link-local (cloud metadata services live here)
        {0xAC100000, 12},  // 172.16/12 private
        {0xC0A80000, 16},  // 192.168/16 private
        {0xE0000000, 4},   // 224/4 multicast
        {0xF0000000, 4},   // 240/4 reserved, including the 255.255.255.255 broadcast
        {0xFFFFFFFF, 32},  // broadcast (already in 240/4; listed for clarity)
    }};
    return std::none_of(blocked.begin(), blocked.end(), [v](const Range& r) {
        const std::uint32_t mask = r.bits == 0 ? 0 : ~std::uint32_t{0} << (32 - r.bits);
        return (v & mask) == r.net;
    });
}

ip::address_v4 v4_at(const ip::address_v6::bytes_type& b, std::size_t offset) {
    return ip::address_v4(ip::address_v4::bytes_type{b[offset], b[offset + 1], b[offset + 2], b[offset + 3]});
}

bool v6_is_public(const ip::address_v6& a) {
    const auto b = a.to_bytes();
    auto zero = [&](std::size_t from, std::size_t to) {
        return std::all_of(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(to),
                           [](unsigned char c) { return c == 0; });
    };
    if (a.is_unspecified() || a.is_loopback()) return false;
    if (a.is_v4_mapped()) return v4_is_public(v4_at(b, 12));                      // ::ffff:a.b.c.d
    if (zero(0, 12)) return v4_is_public(v4_at(b, 12));                           // ::a.b.c.d (compatible)
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
        if (zero(4, 12)) return v4_is_public(v4_at(b, 12));                       // 64:ff9b::/96 NAT64
        if (b[4] == 0x00 && b[5] == 0x01) return false;                           // 64:ff9b:1::/48 local NAT64
    }
    if (b[0] == 0x20 && b[1] == 0x02) return v4_is_public(v4_at(b, 2));           // 2002::/16 6to4
    if ((b[0] & 0xfe) == 0xfc) return false;                                      // fc00::/7 unique local
    if (b[0] == 0xfe && (b[1] & 0x80) == 0x80) return false;                      // fe80::/10, fec0::/10
    if (b[0] == 0xff) return false;                                               // ff00::/8 multicast
    return true;
}

}  // namespace

bool is_public_address(const ip::address& address) {
    return address.is_v4() ? v4_is_public(address.to_v4()) : v6_is_public(address.to_v6());
}

std::string Endpoint::key() const {
    const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return (tls ? "https://" : "http://") + h + ":" + port;
}

Result<Endpoint> parse_endpoint(std::string_view url) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) return Error{ErrorKind::permanent, 0, "invalid URL '" + std::string(url) + "'"};
    const auto& u = *parsed;
    Endpoint ep;
    const std::string scheme = ascii_lower(u.scheme());
    if (scheme == "https") ep.tls = true;
    else if (scheme == "http") ep.tls = false;
    else return Error{ErrorKind::permanent, 0, "unsupported URL scheme '" + scheme + "' (https only)"};
    switch (u.host_type()) {
    case boost::urls::host_type::ipv6: {
        boost::system::error_code ec;
        const auto a = ip::make_address_v6(std::string(u.encoded_host_address()), ec);
        if (ec) return Error{ErrorKind::permanent, 0, "URL has an invalid IPv6 host: '" + std::string(url) + "'"};
        ep.host = a.to_string();
        break;
    }
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::name: ep.host = ascii_lower(u.encoded_host()); break;
    default: return Error{ErrorKind::permanent, 0, "URL host is not a name or an IP address: '" + std::string(url) + "'"};
    }
    if (ep.host.empty()) return Error{ErrorKind::permanent, 0, "URL has no host: '" + std::string(url) + "'"};
    // A percent-encoded name would reach the resolver in some other spelling than the one checked here.
    if (ep.host.find('%') != std::string::npos)
        return Error{ErrorKind::permanent, 0, "URL host must not be percent-encoded: '" + std::string(url) + "'"};
    ep.port = u.has_port() ? std::string(u.port()) : (ep.tls ? "443" : "80");
    const bool numeric_port = !ep.port.empty() && ep.port.size() <= 5 &&
                              std::all_of(ep.port.begin(), ep.port.end(), [](unsigned char c) { return std::isdigit(c); }) &&
                              std::stoul(ep.port) >= 1 && std::stoul(ep.port) <= 65535;
    if (!numeric_port) return Error{ErrorKind::permanent, 0, "URL has no valid port: '" + std::string(url) + "'"};
    ep.port = std::to_string(std::stoul(ep.port));  // "0443" and "443" are one origin
    ep.target = std::string(u.encoded_path());
    if (ep.target.empty()) ep.target = "/";
    if (ep.target.front() != '/')
        return Error{ErrorKind::permanent, 0, "URL path must start with '/': '" + std::string(url) + "'"};
    if (u.has_query()) ep.target += "?" + std::string(u.encoded_query());
    if (!ep.tls && !is_loopback_host(ep.host))
        return Error{ErrorKind::permanent, 0,
                     "plain http:// is refused for non-loopback host '" + ep.host +
                         "': use https:// (http is allowed only for 127.0.0.0/8, ::1 and localhost)"};
    return ep;
}

Result<std::string> origin_of(std::string_view url) {
    auto ep = parse_endpoint(url);
    if (!ep) return std::move(ep).error();
    return ep->key();
}

Error non_public_destination(const Endpoint& endpoint, const ip::address& address) {
    return Error{ErrorKind::permanent, 0,
                 endpoint.key() + " resolves to a non-public address (" + address.to_string() +
                     "): a team may reach it only when the operator lists that origin in [rollout] "
                     "allowed_base_urls"};
}

namespace {

// Asio's resolver, as a Resolver.
asio::awaitable<Result<std::vector<tcp::endpoint>>> system_resolve(std::string host, std::string port) {
    tcp::resolver resolver(co_await asio::this_coro::executor);
    auto [ec, results] = co_await resolver.async_resolve(host, port, use_nothrow);
    if (ec) {
        Error failed{ErrorKind::transient, 0, "cannot resolve host " + host + ": " + ec.message()};
        co_return failed;
    }
    std::vector<tcp::endpoint> out;
    for (const auto& r : results) out.push_back(r.endpoint());
    co_return out;
}

}  // namespace

asio::awaitable<Result<std::vector<tcp::endpoint>>> resolve_destination(Endpoint ep, bool require_public,
                                                                       Resolver resolver,
                                                                       std::chrono::steady_clock::time_point deadline) {
    const auto port = static_cast<unsigned short>(std::stoul(ep.port));
    std::vector<tcp::endpoint> addresses;
    boost::system::error_code literal_ec;
    const auto literal = ip::make_address(ep.host, literal_ec);
    if (!literal_ec) {
        addresses.emplace_back(literal, port);
    } else {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_at(deadline);
        if (!resolver) resolver = system_resolve;
        auto resolving = resolver(ep.host, ep.port);  // named: see the GCC 12 notes in http_pool.cpp
        using namespace asio::experimental::awaitable_operators;
        auto raced = co_await (std::move(resolving) || timer.async_wait(use_nothrow));
        if (raced.index() == 1) {
            Error late{ErrorKind::transient, 0, "resolving " + ep.host + " timed out"};
            co_return late;
        }
        auto resolved = std::get<0>(std::move(raced));
        if (!resolved) co_return std::move(resolved).error();
        addresses = std::move(resolved).value();
        for (auto& a : addresses) a.port(port);  // the URL's port, whatever the resolver filled in
    }
    if (addresses.empty()) {
        Error none{ErrorKind::transient, 0, "host " + ep.host + " resolved to no address"};
        co_return none;
    }
    if (require_public)
        for (const auto& a : addresses)
            if (!is_public_address(a.address())) {
                Error refused = non_public_destination(ep, a.address());
                co_return refused;
            }
    co_return addresses;
}

}  // namespace rollout_mcp::rollout
