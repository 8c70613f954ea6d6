// One serving instance over a sync Harness, as `serve` wires it for 2026-07-28 listen streams: the real HttpServer
// on loopback (its own io_context), the API-key authenticator, the sync tools and the `st_` task backend, a
// ListenHub, and on PostgreSQL the LISTEN/NOTIFY listener that hears the other instances. Plus a raw client for
// one subscriptions/listen stream.
#pragma once

#include "sync_harness.hpp"

#include "server/mcp/sessionless_dispatch.hpp"
#include "server/sync/outbox_notifications.hpp"
#include "storage/postgres_listener.hpp"
#include "support/http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/array.hpp>

#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace rollout_mcp {
class HttpServer;
class McpEndpoint;
class Authenticator;
namespace mcp {
class SessionStore;
}
}  // namespace rollout_mcp

namespace rollout_mcp::sync_test {

class ListenInstance {
public:
    explicit ListenInstance(Harness& h);
    ~ListenInstance();   // shuts the server down and waits until its io_context has run dry

    std::uint16_t port() const { return port_; }
    mcp::ListenHub& hub() { return hub_; }
    ToolRegistry& tools() { return tools_; }
    // The application_name of the listener's PostgreSQL connection ("" on SQLite), for pg_terminate_backend.
    const std::string& listener_name() const { return listener_name_; }
    // An API key of the team (issued now).
    std::string key_for(const std::string& tenant);
    // A sync task of `tenant` over one CRM (tools/call through the tool handler, with the Tasks extension).
    std::string start_task(const std::string& tenant, const std::string& tour);

private:
    Harness& h_;
    boost::asio::io_context io_{2};
    Config config_;
    ToolRegistry tools_;
    mcp::ListenHub hub_;
    mcp::TaskRouter router_;
    mcp::RequestStateCodec state_{std::string(32, 's'), std::chrono::minutes(10)};
    SessionlessServices services_{&hub_, &router_, &state_};
    std::unique_ptr<mcp::SessionStore> sessions_;
    std::shared_ptr<Authenticator> auth_;
    std::unique_ptr<McpEndpoint> endpoint_;
    std::unique_ptr<HttpServer> server_;
    std::uint16_t port_ = 0;
    std::vector<std::thread> threads_;
    std::unique_ptr<InstanceNotifications> heard_;
    std::string listener_name_;
    std::unique_ptr<storage::PgListener> listener_;
};

// One subscriptions/listen stream (2026-07-28) with the team's key; `task_ids` need the Tasks extension.
class ListenStream {
public:
    ListenStream(std::uint16_t port, const std::string& key, bool tools_list_changed, const boost::json::array& task_ids);
    // The acknowledged notifications (the first event).
    const boost::json::object& acknowledged() const { return ack_; }
    // The next notification within `timeout`, or nullopt.
    std::optional<boost::json::object> next(std::chrono::milliseconds timeout);
    // Notifications until one for task `id` has status `status` (nullopt when none within `timeout`).
    std::optional<boost::json::object> until_status(const std::string& id, const std::string& status,
                                                    std::chrono::milliseconds timeout);

private:
    rollout_mcp::test::Client client_;
    boost::json::object ack_;
};

}  // namespace rollout_mcp::sync_test
