// subscriptions/listen streams (see listen_hub.hpp).
#include "server/mcp/listen_hub.hpp"

#include "server/mcp/json_rpc.hpp"
#include "server/mcp/stateless_envelope.hpp"

#include <algorithm>

namespace rollout_mcp::mcp {
namespace json = boost::json;

std::string ListenHub::tagged(std::string_view method, json::object params, const json::value& id) {
    json::object meta;
    if (const auto* existing = params.if_contains("_meta"); existing && existing->is_object()) meta = existing->get_object();
    meta[kMetaSubscriptionId] = id;
    params["_meta"] = std::move(meta);
    return jsonrpc::notification(method, params);
}

void ListenHub::prune_locked() {
    std::erase_if(entries_, [](const Entry& e) {
        auto s = e.stream.lock();
        return !s || s->finished();
    });
}

std::shared_ptr<EventStream> ListenHub::open(const std::string& tenant, ListenFilter filter, json::value subscription_id,
                                             json::object honoured) {
    std::lock_guard lock(mu_);
    if (closed_) return nullptr;
    prune_locked();
    const auto mine = std::count_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.tenant == tenant; });
    if (static_cast<std::size_t>(mine) >= limits_.per_team || entries_.size() >= limits_.total) return nullptr;
    auto stream = std::make_shared<EventStream>(0, true, limits_.max_events, limits_.max_bytes);
    stream->append(tagged("notifications/subscriptions/acknowledged", json::object{{"notifications", std::move(honoured)}},
                          subscription_id));
    entries_.push_back({stream, tenant, filter, std::move(subscription_id)});
    return stream;
}

void ListenHub::tools_list_changed() {
    tools_list_changed_here();
    if (announce_) announce_();
}

void ListenHub::tools_list_changed_here() {
    std::lock_guard lock(mu_);
    for (const auto& e : entries_)
        if (e.filter.tools_list_changed)
            if (auto s = e.stream.lock()) s->append(tagged("notifications/tools/list_changed", {}, e.subscription_id));
}

void ListenHub::task_status(const std::string& tenant, const json::object& params) {
    std::lock_guard lock(mu_);
    for (const auto& e : entries_)
        if (e.filter.tasks && e.tenant == tenant)
            if (auto s = e.stream.lock()) s->append(tagged("notifications/tasks", params, e.subscription_id));
}

void ListenHub::close_all() {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (const auto& e : entries_)
        if (auto s = e.stream.lock()) s->close();
    entries_.clear();
}

std::size_t ListenHub::size() {
    std::lock_guard lock(mu_);
    prune_locked();
    return entries_.size();
}

}  // namespace rollout_mcp::mcp
