// Canonical JSON text (object keys sorted at every level, no whitespace) and its BLAKE2b-256 hash: what
// makes "the same arguments" comparable when a client reorders fields (idempotency keys, automation specs).
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp {

void append_canonical_json(const boost::json::value& v, std::string& out);
std::string canonical_json(const boost::json::value& v);
// BLAKE2b-256 over `domain` + "\n" + the canonical text of `v`.
std::vector<unsigned char> canonical_hash(std::string_view domain, const boost::json::value& v);

}  // namespace rollout_mcp
