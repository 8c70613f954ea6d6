// The open `subscriptions/listen` streams of sessionless (2026-07-28) clients and what is published to them
// (https://modelcontextprotocol.io/specification/2026-07-28/basic/patterns/subscriptions): list-changed
// notifications to every stream that asked for them, task status notifications to the streams of the task's
// own team only. Every notification carries the stream's subscription id in `_meta`. The server keeps no
// subscription state beyond the open stream: a client reconnects by sending subscriptions/listen again.
#pragma once

#include "server/mcp/event_stream.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rollout_mcp::mcp {

struct ListenFilter {
    bool tools_list_changed = false;
    bool prompts_list_changed = false;
    bool resources_list_changed = false;
    bool tasks = false;   // notifications/tasks (the Tasks extension)
};

struct ListenLimits {
    std::size_t per_team = 16;      // open listen streams one team may hold
    std::size_t total = 4096;
    std::size_t max_events = 256;   // buffered per stream for a slow reader (then the oldest go)
    std::size_t max_bytes = 256 * 1024;
};

class ListenHub {
public:
    explicit ListenHub(ListenLimits limits = {}) : limits_(limits) {}

    // A new stream whose first event is notifications/subscriptions/acknowledged (params.notifications = what the
    // server honours); nullptr when a cap is reached.
    std::shared_ptr<EventStream> open(const std::string& tenant, ListenFilter filter, boost::json::value subscription_id,
                                      boost::json::object honoured);

    // notifications/tools/list_changed to every stream here that asked for it, then to the other instances'
    // through the announcer, if one is set.
    void tools_list_changed();
    // The same, here only: another instance announced a change (it already told its own streams).
    void tools_list_changed_here();
    // Tells the other instances sharing the database (server/sync/outbox_notifications.hpp); set once, before
    // the server starts. Must not block: it only posts the work.
    void set_announcer(std::function<void()> announce) { announce_ = std::move(announce); }
    // notifications/tasks {params} to the team's streams that asked for task notifications.
    void task_status(const std::string& tenant, const boost::json::object& params);
    // Ends every stream (shutdown) and refuses new ones.
    void close_all();
    std::size_t size();

    // A notification tagged with a subscription id (params._meta["io.modelcontextprotocol/subscriptionId"]).
    static std::string tagged(std::string_view method, boost::json::object params, const boost::json::value& id);

private:
    struct Entry {
        std::weak_ptr<EventStream> stream;
        std::string tenant;
        ListenFilter filter;
        boost::json::value subscription_id;
    };
    void prune_locked();

    const ListenLimits limits_;
    std::mutex mu_;
    std::vector<Entry> entries_;
    bool closed_ = false;
    std::function<void()> announce_;
};

}  // namespace rollout_mcp::mcp
