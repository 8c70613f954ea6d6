// See listen_instance.hpp.
#include "listen_instance.hpp"

#include "server/http/api_key_auth.hpp"
#include "server/http/http_server.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/session_settings.hpp"
#include "server/tools/rollout_tools.hpp"
#include "server/tools/sync_tasks.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <sodium.h>
#include <unistd.h>

#include <stdexcept>

namespace rollout_mcp::sync_test {
namespace json = boost::json;

ListenInstance::ListenInstance(Harness& h) : h_(h) {
    config_.server.port = 0;
    config_.server.threads = 2;
    config_.server.shutdown_grace = std::chrono::milliseconds(500);
    config_.mcp.sse_keepalive = std::chrono::milliseconds(200);
    config_.log.level = "error";
    SyncToolsDeps deps{&h.team(), &h.worker(), std::chrono::milliseconds(0), std::chrono::hours(1),
                       std::make_shared<const std::string>(32, 'k')};
    register_rollout_tools(tools_, h.team(), deps);
    router_.add("st_", make_sync_task_backend(deps, std::chrono::hours(1)));
    sessions_ = mcp::make_in_memory_session_store(session_store_settings(config_));
    auth_ = make_api_key_authenticator(h.storage());
    endpoint_ = std::make_unique<McpEndpoint>(config_, tools_, *sessions_, *auth_, services_);
    server_ = std::make_unique<HttpServer>(io_.get_executor(), config_, *endpoint_, *sessions_,
                                           [] { return json::object{{"ready", true}}; }, nullptr);
    port_ = server_->listen();
    server_->start();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
    heard_ = std::make_unique<InstanceNotifications>(
        InstanceNotifications{&h.worker(), new_instance_id(), [this] { hub_.tools_list_changed_here(); }});
    if (!h.database().postgresql()) return;
    unsigned char raw[6];
    randombytes_buf(raw, sizeof raw);
    char hex[2 * sizeof raw + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    listener_name_ = std::string("rmcp_listen_") + hex;
    listener_ = storage::PgListener::start(h.database().url() + "&application_name=" + listener_name_,
                                           [this](std::string_view channel, std::string_view payload) {
                                               hear_instance_notification(*heard_, channel, payload);
                                           });
    auto* storage = &h.storage();
    hub_.set_announcer([storage, this] { announce_tools_list_changed(*storage, heard_->instance_id); });
}

ListenInstance::~ListenInstance() {
    listener_.reset();
    auto done = boost::asio::co_spawn(io_, server_->shutdown(), boost::asio::use_future);
    done.wait();
    for (auto& t : threads_) t.join();   // run() returns once every coroutine (the task watchers too) has ended
}

std::string ListenInstance::key_for(const std::string& tenant) {
    auto issued = h_.on_storage([tenant](storage::Storage& s) { return s.issue_api_key(tenant); });
    if (!issued) throw std::runtime_error(issued.error().message);
    return std::string(reinterpret_cast<const char*>(issued->key.data()), issued->key.size());
}

std::string ListenInstance::start_task(const std::string& tenant, const std::string& tour) {
    CallInfo info;
    info.sessionless = true;
    info.tasks = true;
    auto r = call_tool(h_, tools_, tenant, "sync_tour_data", json::object{{"tourData", make_tour(tour, "b-" + tour, 1)}}, info);
    if (!r.contains("taskId")) throw std::runtime_error("no task: " + json::serialize(r));
    return std::string(r.at("taskId").as_string());
}

namespace {
json::object meta() {
    return {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
            {"io.modelcontextprotocol/clientCapabilities",
             json::object{{"extensions", json::object{{"io.modelcontextprotocol/tasks", json::object{}}}}}}};
}
}  // namespace

ListenStream::ListenStream(std::uint16_t port, const std::string& key, bool tools_list_changed,
                           const json::array& task_ids)
    : client_(port) {
    json::object wanted;
    if (tools_list_changed) wanted["toolsListChanged"] = true;
    if (!task_ids.empty()) wanted["taskIds"] = task_ids;
    json::object params{{"notifications", std::move(wanted)}, {"_meta", meta()}};
    rollout_mcp::test::Headers h{{"Host", "127.0.0.1:" + std::to_string(port)},
                                 {"Accept", "application/json, text/event-stream"},
                                 {"Content-Type", "application/json"},
                                 {"Authorization", "Bearer " + key},
                                 {"MCP-Protocol-Version", "2026-07-28"},
                                 {"Mcp-Method", "subscriptions/listen"}};
    if (!client_.send(rollout_mcp::test::http_request("POST", "/mcp", h,
                                                      rollout_mcp::test::rpc_request("L", "subscriptions/listen", params))))
        throw std::runtime_error("cannot send subscriptions/listen");
    const auto head = client_.read_head();
    if (head.status != 200) throw std::runtime_error("subscriptions/listen: HTTP " + std::to_string(head.status));
    auto first = next(std::chrono::seconds(5));
    if (!first || first->at("method") != "notifications/subscriptions/acknowledged")
        throw std::runtime_error("subscriptions/listen: no acknowledgement");
    ack_ = first->at("params").as_object();
}

std::optional<json::object> ListenStream::next(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        auto e = client_.next_event(left);
        if (!e) return std::nullopt;
        if (e->data.empty()) continue;
        return json::parse(e->data).as_object();
    }
}

std::optional<json::object> ListenStream::until_status(const std::string& id, const std::string& status,
                                                       std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto n = next(left);
        if (!n) return std::nullopt;
        if (n->at("method") != "notifications/tasks") continue;
        const auto& p = n->at("params");
        if (p.at("taskId") == json::value(id) && p.at("status") == json::value(status)) return n;
    }
}

}  // namespace rollout_mcp::sync_test
