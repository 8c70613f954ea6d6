// Origin normalization for base-URL allow-listing. Deliberately strict: anything unusual (percent-escapes,
// userinfo, empty labels, odd characters) is refused instead of guessed at, because a looser parser here
// than in the HTTP client would let a team reach a host the list does not name.
#include "server/app/origin.hpp"

#include "base/ascii.hpp"
#include "base/loopback.hpp"

#include "server/app/config.hpp"

#include <algorithm>
#include <cctype>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace rollout_mcp {
namespace {


bool host_name_ok(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    std::size_t label = 0;
    for (char c : host) {
        if (c == '.') {
            if (label == 0) return false;   // empty label (leading dot or "..")
            label = 0;
            continue;
        }
        const auto u = static_cast<unsigned char>(c);
        if (!std::isalnum(u) && c != '-') return false;
        if (++label > 63) return false;
    }
    return label > 0;   // no trailing dot
}

std::optional<std::string> port_of(std::string_view digits) {
    if (digits.empty() || digits.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    return std::to_string(value);
}

// `authority` is everything between "://" and the first "/", "?" or "#".
std::optional<std::string> normalize_authority(const std::string& scheme, std::string_view authority) {
    if (authority.find('@') != std::string_view::npos) return std::nullopt;   // userinfo
    std::string host;
    std::string_view port_text;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const std::string literal(authority.substr(1, close - 1));
        in6_addr v6{};
        if (inet_pton(AF_INET6, literal.c_str(), &v6) != 1) return std::nullopt;
        char buf[INET6_ADDRSTRLEN] = {};
        if (!inet_ntop(AF_INET6, &v6, buf, sizeof buf)) return std::nullopt;
        host = "[" + std::string(buf) + "]";
        auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            has_port = true;
            port_text = rest.substr(1);
        }
    } else {
        const auto colon = authority.find(':');
        const auto name = authority.substr(0, colon);
        if (!host_name_ok(name)) return std::nullopt;
        host = ascii_lower(name);
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = authority.substr(colon + 1);
        }
    }
    std::string port = scheme == "https" ? "443" : "80";
    if (has_port) {
        auto p = port_of(port_text);
        if (!p) return std::nullopt;
        port = *p;
    }
    return scheme + "://" + host + ":" + port;
}

std::optional<std::string> split(std::string_view text, bool allow_path) {
    const auto sep = text.find("://");
    if (sep == std::string_view::npos) return std::nullopt;
    const std::string scheme = ascii_lower(text.substr(0, sep));
    if (scheme != "http" && scheme != "https") return std::nullopt;
    auto rest = text.substr(sep + 3);
    const auto end = rest.find_first_of("/?#");
    const auto authority = rest.substr(0, end);
    const auto tail = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    if (!allow_path && !tail.empty() && tail != "/") return std::nullopt;
    if (allow_path && !tail.empty() && tail.front() != '/') return std::nullopt;   // "?x" right after the host
    for (char c : text)
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return std::nullopt;
    return normalize_authority(scheme, authority);
}

}  // namespace

std::optional<std::string> normalize_origin(std::string_view text) { return split(text, false); }

std::optional<std::string> origin_of_url(std::string_view url) { return split(url, true); }

bool origin_transport_allowed(std::string_view origin) {
    if (origin.rfind("https://", 0) == 0) return true;
    if (origin.rfind("http://", 0) != 0) return false;
    auto hostport = origin.substr(7);
    const auto colon = hostport.rfind(':');
    return is_loopback_host(std::string(hostport.substr(0, colon)));
}

bool origin_listed(const std::vector<std::string>& allowed, std::string_view origin) {
    return std::find(allowed.begin(), allowed.end(), origin) != allowed.end();
}

}  // namespace rollout_mcp
