// The shared record of a 2025 MCP session (Mcp-Session-Id,
// https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#session-management) when several
// instances share one PostgreSQL database (docs/ARCHITECTURE.md, "Several instances"): which team owns it and what
// was negotiated, so any instance can serve its POSTs. The id is a bearer value: only its hash is stored, and only
// the hash travels in notifications.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rollout_mcp::storage {

struct McpSessionRecord {
    std::string tenant_id;
    std::string revision;    // the negotiated protocol revision, e.g. "2025-11-25"
    std::string log_level;   // logging/setLevel's level, e.g. "info"
    std::int64_t created_at_ms = 0;
    std::int64_t last_active_ms = 0;
};

// BLAKE2b-256 of the id, as 64 lowercase hex characters: the row's key and the NOTIFY payload. The id is 128 random
// bits, so an unkeyed hash cannot be reversed or guessed.
std::string mcp_session_id_hash(std::string_view session_id);

}  // namespace rollout_mcp::storage
