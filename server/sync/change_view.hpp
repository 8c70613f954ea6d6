// How the CRM change log looks to clients (README, "Changes from the CRM"), shared by the list_crm_changes tool
// and the MCP Events extension (poll and webhook): the opaque cursor, a change as JSON, an Events occurrence,
// and Standard Webhooks signing (https://www.standardwebhooks.com/, the profile ChatGPT's MCP Events use:
// https://developers.openai.com/plugins/build/mcp-events.md).
#pragma once

#include "base/result.hpp"
#include "storage/storage.hpp"   // crypto::SecretBytes, as storage hands it over
#include "storage/crm_changes.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rollout_mcp {

// The one event type this server offers: every change kind is a "crm.change" with data.kind.
inline constexpr std::string_view kCrmChangeEvent = "crm.change";

// A cursor is "c" + the team's change sequence number (decimal). Opaque to clients; parse refuses anything else.
std::string change_cursor(std::int64_t seq);
std::optional<std::int64_t> parse_change_cursor(std::string_view cursor);

// {changeId, kind, tourId?, visitId?, buyerId?, fields, crmType, recordId?, occurredAt, recordedAt, cursor}; the
// fields JSON as stored (an object). CRM text is data: clients must not take it as instructions.
boost::json::object change_json(const storage::CrmChange& change);
// An Events occurrence {eventId, name, timestamp, data, cursor}.
boost::json::object change_event(const storage::CrmChange& change);
// The JSON schema of change_json (events/list's payloadSchema, the tool's output schema).
boost::json::object change_schema();

// The key of a "whsec_" secret: base64 of 24 to 64 bytes after the prefix; invalid_argument naming `secret`.
Result<crypto::SecretBytes> parse_webhook_secret(std::string_view secret);
// webhook-signature: "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")).
std::string webhook_signature(std::span<const unsigned char> key, std::string_view id, std::int64_t timestamp,
                              std::string_view body);

}  // namespace rollout_mcp
