// Read-buffer sizing for Beast HTTP reads, shared by the server's connections and the Rollout client's pool.
//
// Beast reads into a flat_buffer at most its free capacity (and at least 512 bytes) at a time
// (boost::beast::read_size, https://www.boost.org/doc/libs/1_81_0/libs/beast/doc/html/beast/ref/boost__beast__read_size.html),
// and a parser that moves the body into a string empties the buffer as it goes, so the buffer never grows: a
// buffer that was never reserved reads a 40 KB reply in 80 pieces of 512 bytes, each a system call and a run of
// the completion handler. Reserving room for the body once its header is in makes that one or a few reads.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace rollout_mcp {

// Room for a body of `content_length` bytes (unknown: chunked, or up to the close: `unknown_length`), at most `cap`.
// (`content_length` as Beast's parser gives it: a boost::optional.)
template <class OptionalLength>
void reserve_for_body(boost::beast::flat_buffer& buffer, const OptionalLength& content_length, std::size_t unknown_length,
                      std::size_t cap) {
    const std::uint64_t wanted = content_length ? static_cast<std::uint64_t>(*content_length) : unknown_length;
    const auto room = static_cast<std::size_t>(std::min<std::uint64_t>(wanted, cap));
    if (buffer.capacity() - buffer.size() < room) buffer.reserve(buffer.size() + room);
}

// What a connection keeps between messages: a buffer that grew for one large body goes back to `keep` bytes once
// empty (not to nothing: the next header would be read in pieces of 512 bytes again).
inline void trim_read_buffer(boost::beast::flat_buffer& buffer, std::size_t keep) {
    if (buffer.size() != 0 || buffer.capacity() <= keep) return;
    buffer.shrink_to_fit();   // empty: frees it
    buffer.reserve(keep);
}

}  // namespace rollout_mcp
