// Subscribing a team's CRM connection to Rollout's webhooks (issue 20; README, "Changes from the CRM";
// Rollout's webhook API: POST/GET /webhooks, DELETE /webhooks/{id} on the CRM host, per credential). Each
// connection gets one unguessable route (storage: issue_hook_route) and one subscription per watched event at
// `<public_url>/hooks/rollout/<route>`; subscribing again (a new credential, a restart of the route) first deletes
// the subscriptions of ours that the credential still has, so Rollout never posts to a dead route twice over.
// "Ours" is every subscription whose url starts with `<public_url>/hooks/rollout/`: another system's
// subscriptions on the same credential are never touched.
#pragma once

#include "server/sync/team_rollout.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <string>
#include <string_view>

namespace rollout_mcp {

// The events a connection subscribes to: what can concern a tour, a visit or a buyer we synced.
inline constexpr std::array<std::string_view, 12> kHookEvents = {
    "peopleCreated",       "peopleUpdated",       "peopleDeleted", "appointmentsCreated",
    "appointmentsUpdated", "appointmentsDeleted", "tasksCreated",  "tasksUpdated",
    "tasksDeleted",        "notesCreated",        "notesUpdated",  "notesDeleted"};

struct HookSubscriptionState {
    bool subscribed = false;
    std::string reason;   // not subscribed: why, naming what to set (for the tool result); "" when subscribed
    int events = 0;       // subscribed: how many subscriptions were made
};

class HookSubscriptions {
public:
    // `public_url`: [server] public_url, normalized (no trailing slash); "" = Rollout cannot reach this server.
    HookSubscriptions(TeamRollout& teams, std::string public_url);
    const std::string& public_url() const { return public_url_; }

    // Subscribes the team's stored connection to `crm_type` (configure_crm_connection calls it after storing).
    boost::asio::awaitable<HookSubscriptionState> subscribe(std::string tenant, std::string crm_type);
    // Deletes every subscription of ours on `credential` (remove_crm_connection, before the row goes).
    boost::asio::awaitable<Result<int>> unsubscribe(std::string tenant, std::string credential);
    // The reconcile loop's check of a subscribed connection (someone may delete or disable subscriptions at Rollout's
    // end): ours at the connection's current route that Rollout reports "Disabled" are deleted and every watched
    // event without an active one there is subscribed again at that same route, leaving the working ones alone;
    // when no subscription names the route any more, the connection is subscribed afresh (subscribe(), a new route).
    // Returns how many subscriptions were made (0: all were in place).
    boost::asio::awaitable<Result<int>> repair(std::string tenant, std::string crm_type);

private:
    TeamRollout& teams_;
    const std::string public_url_;
};

// Why a team's CRM changes do not arrive, naming the setting to fix; "" when nothing is known to be missing.
// Runs on the storage thread (list_crm_changes' notice).
std::string change_notice(storage::Storage& storage, const std::string& tenant, const std::string& public_url);

// How the team authenticates to Rollout, for list_crm_connections (storage thread): "clientSecret" (tokens minted
// as needed), "authToken" (a pre-minted token: background syncs and change fetches stop at its exp), or "" when
// Rollout is not configured. expires_at_s: the authToken's exp (Unix seconds), 0 when unknown.
struct RolloutAuthView {
    std::string mode;
    std::int64_t expires_at_s = 0;
};
RolloutAuthView rollout_auth_view(storage::Storage& storage, const std::string& tenant);

}  // namespace rollout_mcp
