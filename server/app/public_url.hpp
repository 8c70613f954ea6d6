// [server] public_url: the origin (plus an optional path prefix) through which Rollout reaches this server's
// webhook endpoint, `<public_url>/hooks/rollout/<route>` (docs/ARCHITECTURE.md; issue 20). Every instance is
// configured with the same one. Parsed strictly, like origin.hpp: anything unusual is refused, not guessed at.
#pragma once

#include "base/result.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp {

struct PublicUrl {
    std::string origin;        // normalized "scheme://host:port" (origin.hpp)
    std::string host;          // the host name as a Host header names it: lower-case, IPv6 bracketed
    std::string path_prefix;   // "" or "/seg[/seg...]", no trailing "/"
    // The path Rollout posts to for one route: prefix + "/hooks/rollout/" + route.
    std::string hook_path(std::string_view route) const;
    // The absolute URL Rollout is given for one route.
    std::string hook_url(std::string_view route) const;
};

// "https://host[:port][/prefix]" (a trailing "/" allowed) -> PublicUrl. https, or http only for a loopback
// host; no userinfo, query or fragment; path segments of unreserved characters only (no "%", ".", ".."
// or empty segments). The error names what is wrong, never where it came from (the caller adds the key).
Result<PublicUrl> parse_public_url(std::string_view text);

// The path the hooks endpoint serves ("<prefix>/hooks/rollout/"); a request path that starts with it and
// has one non-empty segment after it gives that route; nullopt for every other path.
std::optional<std::string_view> hook_route_of(std::string_view path, std::string_view path_prefix);

}  // namespace rollout_mcp
