// Origins (scheme://host:port) of Rollout base URLs, in one normal form so a team's baseUrl, the stored
// endpoints and [rollout] allowed_base_urls are compared exactly, whatever spelling each used.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp {

// "scheme://host[:port]" with at most a trailing "/" -> "scheme://host:port": scheme http or https, host
// lower-case (IPv6 literals bracketed), the port explicit (80/443 by default). nullopt for anything else: a
// path, query or fragment, userinfo, an empty or malformed host or port. No DNS: names stay names.
std::optional<std::string> normalize_origin(std::string_view text);

// The normalized origin of an absolute URL that may carry a path (a stored endpoint); nullopt as above,
// except that a path, query or fragment is dropped rather than refused (userinfo is still refused).
std::optional<std::string> origin_of_url(std::string_view url);

// Whether a normalized origin may be used as a Rollout host at all: https anywhere, http only on loopback.
bool origin_transport_allowed(std::string_view normalized_origin);

// Whether `normalized_origin` is one of `allowed` (entries already normalized by the config loader).
bool origin_listed(const std::vector<std::string>& allowed, std::string_view normalized_origin);

}  // namespace rollout_mcp
