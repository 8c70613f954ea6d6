// The MCP Events extension's protocol side (`io.modelcontextprotocol/events`, SEP-3415,
// https://modelcontextprotocol.io/seps/3415-events-extension; ChatGPT's webhook profile:
// https://developers.openai.com/plugins/build/mcp-events.md), for 2026-07-28 requests: events/list, events/poll,
// events/subscribe and events/unsubscribe. A backend (server/tools/change_events.cpp) answers them for the
// caller's team; this layer only routes and shapes errors.
#pragma once

#include "base/result.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <string>

namespace rollout_mcp::mcp {

inline constexpr std::string_view kEventsExtension = "io.modelcontextprotocol/events";

class EventsBackend {
public:
    virtual ~EventsBackend() = default;
    // Each method gets the request's params and answers the result object (without resultType), or an Error:
    // invalid_argument (std::errc) becomes -32602 naming the field, anything else a retryable 503.
    // References: the caller's frame owns them until the call completes.
    virtual boost::json::object list() const = 0;
    virtual boost::asio::awaitable<Result<boost::json::object>> poll(const std::string& tenant,
                                                                     const boost::json::object& params) = 0;
    virtual boost::asio::awaitable<Result<boost::json::object>> subscribe(const std::string& tenant,
                                                                          const boost::json::object& params) = 0;
    virtual boost::asio::awaitable<Result<boost::json::object>> unsubscribe(const std::string& tenant,
                                                                            const boost::json::object& params) = 0;
};

}  // namespace rollout_mcp::mcp
