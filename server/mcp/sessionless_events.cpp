// Sessionless events/* methods (see sessionless_dispatch.hpp and server/mcp/events.hpp): params must be an object;
// the backend answers for the caller's team; a backend's invalid_argument is -32602 naming the field, any other
// failure a retryable 503 (a busy store is never reported as "no such subscription").
#include "server/mcp/sessionless_dispatch.hpp"

#include <boost/json/serialize.hpp>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;
using mcp::sessionless_error;

namespace {

HttpReply events_reply(const json::value& id, Result<json::object>& result) {
    if (!result) {
        if (result.error().code == std::errc::invalid_argument)
            return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: " + result.error().message);
        auto reply = sessionless_error(id, jsonrpc::code::internal_error, "the event store cannot answer now; retry",
                                       nullptr, 503);
        reply.headers.emplace_back("Retry-After", "1");
        return reply;
    }
    json::object& out = *result;
    out["resultType"] = "complete";
    return json_reply(jsonrpc::result(id, out));
}

}  // namespace

asio::awaitable<HttpReply> SessionlessDispatcher::events_method(const mcp::SessionlessCall& call,
                                                                 const std::string& tenant) {
    const auto& id = call.message.id;
    const auto& method = call.message.method;
    const json::object& params = *call.message.params;
    auto* events = services_.events;
    if (method == "events/list") {
        Result<json::object> r{events->list()};
        co_return events_reply(id, r);
    }
    if (method == "events/poll") {
        auto r = co_await events->poll(tenant, params);
        co_return events_reply(id, r);
    }
    if (method == "events/subscribe") {
        auto r = co_await events->subscribe(tenant, params);
        co_return events_reply(id, r);
    }
    if (method == "events/unsubscribe") {
        auto r = co_await events->unsubscribe(tenant, params);
        co_return events_reply(id, r);
    }
    co_return sessionless_error(id, jsonrpc::code::method_not_found, "Method not found: " + method, nullptr, 404);
}

}  // namespace rollout_mcp
