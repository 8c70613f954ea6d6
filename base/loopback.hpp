// The one loopback predicate: whether a host names this machine's loopback interface without any lookup.
// The bind check (auth.mode = "none" is loopback only), the master-key rule and the outbound rule (plain
// HTTP only to loopback) all use it, so they can never disagree on a spelling.
#pragma once

#include <string_view>

namespace rollout_mcp {

// True for "localhost" (any case, with or without the root dot), an IPv4 literal in 127.0.0.0/8 and the
// IPv6 literal ::1, bracketed or not. Every other name is false: a name is not trusted to resolve to loopback.
bool is_loopback_host(std::string_view host);

}  // namespace rollout_mcp
