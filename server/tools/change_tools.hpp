// The CRM change feed for MCP clients (README, "Changes from the CRM"): the list_crm_changes tool (every client)
// and the MCP Events backend (2026-07-28 clients: events/list, poll, webhook subscribe/unsubscribe).
#pragma once

#include "server/app/config.hpp"
#include "server/mcp/events.hpp"
#include "server/mcp/tool_registry.hpp"
#include "server/sync/team_rollout.hpp"

#include <functional>
#include <memory>
#include <string>

namespace rollout_mcp {

// Why a team's changes are not flowing ("" when nothing is known to be missing), run on the storage thread with
// the normalized [server] public_url (server/sync/hook_subscriptions.hpp, change_notice).
using ChangeNotice = std::string (*)(storage::Storage& storage, const std::string& tenant, const std::string& public_url);

struct ChangeDeps {
    StorageExecutor* storage = nullptr;
    EventSettings events;
    // 32 secret bytes (master-derived): a subscription's id is a keyed hash of (team, event name, callback URL), so
    // subscribing again is a refresh, never a second subscription.
    std::shared_ptr<const std::string> subscription_id_key;
    ChangeNotice notice = nullptr;
    std::string public_url;                     // given to `notice`
    std::function<void()> wake_delivery = {};   // a subscription was made or refreshed
};

void register_change_tools(ToolRegistry& registry, ChangeDeps deps);
std::unique_ptr<mcp::EventsBackend> make_change_events(ChangeDeps deps);

// Shared by both: a page of the team's changes after `since` ("" = from the oldest kept), limit capped at 500.
// invalid_argument naming `field` for a cursor that is not one of this team's.
boost::asio::awaitable<Result<storage::CrmChangePage>> read_changes(StorageExecutor& storage, const std::string& tenant,
                                                                    const std::string& since, std::size_t limit,
                                                                    const std::string& field);
inline constexpr std::size_t kMaxChangesPerRead = 500;

}  // namespace rollout_mcp
