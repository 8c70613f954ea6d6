// The one completion token for awaiting an Asio operation without exceptions: `auto [ec, n] = co_await
// socket.async_read_some(buffer, use_nothrow);` yields the error code in a tuple instead of throwing it.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rollout_mcp {

inline constexpr auto use_nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace rollout_mcp
