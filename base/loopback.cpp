#include "base/loopback.hpp"
#include "base/ascii.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace rollout_mcp {

bool is_loopback_host(std::string_view host) {
    std::string literal = ascii_lower(host);
    if (literal == "localhost" || literal == "localhost.") return true;
    in_addr v4{};   // inet_pton takes only the dotted-quad form: "127.1" and "127.evil.com" are not literals
    if (inet_pton(AF_INET, literal.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']')   // brackets only around IPv6
        literal = literal.substr(1, literal.size() - 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, literal.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

}  // namespace rollout_mcp
