// Fuzz target: bytes from a client socket. Beast's request_parser with the server's header and body limits
// (as server/http_connection.cpp sets it up), requests pipelined on one connection, each handed to
// McpEndpoint::handle (Host, Origin, method, Accept, Content-Type, session, protocol-version,
// Last-Event-ID and JSON-RPC rules) with SSE replies written out as a connection would.
//
// Placeholders (the corpus cannot know random values): "Mcp-Session-Id: s1|s2|s3" names a live session of
// revision 2025-03-26|2025-06-18|2025-11-25; a Last-Event-ID starting with "EPOCH" gets the server's epoch.
//
// Properties: no crash/UB/leak; no exception out of handle(); framing that RFC 9112 calls ambiguous
// (Content-Length with Transfer-Encoding, differing Content-Lengths) is refused, never parsed; the body
// limit holds (the header limit is the connection's own header_over_limit, run here too); every JSON reply and SSE payload is valid JSON; reply headers carry no CR/LF.
#include "fuzz_support.hpp"
#include "server/http/http_request_view.hpp"
#include "server/app/observability.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace rollout_mcp;
namespace beast = boost::beast;
namespace http = beast::http;
using Parser = http::request_parser<http::string_body>;
using Request = http::request<http::string_body>;

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

// Feeds the rest of the input the way Beast's read_some does (one receive holding all of it; then the
// peer closes). Stops when the header (header_only) or the message is complete, or on an error.
void put_input(Parser& parser, std::string_view in, std::size_t& off, beast::error_code& ec, bool header_only) {
    for (;;) {
        if (header_only ? parser.is_header_done() : parser.is_done()) return;
        if (off == in.size()) {
            // End of stream: a partial message is an error, no message at all is end_of_stream.
            if (parser.got_some()) parser.put_eof(ec);
            else ec = http::error::end_of_stream;
            if (!ec && !(header_only ? parser.is_header_done() : parser.is_done())) ec = http::error::partial_message;
            return;
        }
        const std::size_t n = parser.put(boost::asio::buffer(in.data() + off, in.size() - off), ec);
        off += n;
        if (ec == http::error::need_more) {
            ec = {};
            if (n == 0) off = in.size();   // needs bytes that never arrive: treat as the peer closing
            continue;
        }
        if (ec) return;
        if (n == 0 && !(header_only ? parser.is_header_done() : parser.is_done()))
            fuzz::fail("request_parser made no progress without an error");
    }
}

// RFC 9110 8.6 / RFC 9112 6.3: Content-Length is 1*DIGIT; repeated fields or a list are acceptable only when
// every element is the same decimal number ("03" and "3" are the same length, as Beast compares them).
// `number` carries the value seen so far, without leading zeros.
void check_content_length(std::string_view value, std::string& number) {
    std::size_t pos = 0;
    while (pos <= value.size()) {
        const std::size_t comma = std::min(value.find(',', pos), value.size());
        std::string_view element = value.substr(pos, comma - pos);
        pos = comma + 1;
        while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) element.remove_prefix(1);
        while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) element.remove_suffix(1);
        if (element.empty()) continue;   // empty list elements carry nothing (RFC 9110 5.6.1)
        for (char c : element)
            if (c < '0' || c > '9') fuzz::fail("a Content-Length that is not a decimal number was accepted", value);
        while (element.size() > 1 && element.front() == '0') element.remove_prefix(1);
        if (number.empty()) number = element;
        else if (element != number) fuzz::fail("differing Content-Length values were accepted", value);
    }
}

// RFC 9112 6.1/6.3: a request with Transfer-Encoding whose final coding is not chunked has no reliable
// length (MUST 400 and close); Content-Length next to Transfer-Encoding is a smuggling vector (Beast refuses
// it only with chunked). Finding "te-framing": such a request was parsed and handed on.
void check_framing(const Parser& parser, const ServerSettings& limits) {
    const Request& req = parser.get();
    const bool has_te = req.find(http::field::transfer_encoding) != req.end();
    std::size_t content_lengths = 0;
    std::string number;
    for (const auto& field : req) {
        if (field.name() != http::field::content_length) continue;
        ++content_lengths;
        check_content_length(sv(field.value()), number);
    }
    if (has_te && !parser.chunked())
        fuzz::finding("te-framing", "Transfer-Encoding without chunked as the final coding was accepted",
                      sv(req[http::field::transfer_encoding]));
    if (has_te && content_lengths) fuzz::finding("te-framing", "Content-Length together with Transfer-Encoding was accepted");
    if (req.body().size() > limits.max_body_bytes) fuzz::fail("body over max_body_bytes was accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    fuzz::World world;
    const ServerSettings& cfg = world.config().server;
    std::size_t off = 0;
    // A few requests per connection are enough to reach session state (initialize, call, resume).
    for (int n = 0; n < 8 && off < in.size(); ++n) {
        Parser parser;
        configure_request_parser(parser, cfg);
        beast::error_code ec;
        const std::size_t start = off;
        put_input(parser, in, off, ec, true);
        const std::size_t header_bytes = off - start;
        if (!ec && header_over_limit(header_bytes, cfg)) break;   // 431 and close
        if (!ec && framing_problem(parser)) break;   // the server answers 400 and closes, as serve() does
        if (!ec && !parser.is_done()) {
            parser.eager(true);   // http::async_read reads the body eagerly
            put_input(parser, in, off, ec, false);
        }
        if (ec) break;   // the connection answers 400/413/431 (or nothing) and closes
        const Request& req = parser.get();
        check_framing(parser, cfg);
        (void)observe::request_id(sv(req["X-Request-Id"]));

        HttpRequest view = view_of(req);
        const std::string session = world.session_for(view.session_id);
        if (!session.empty()) view.session_id = session;
        const std::string last_event_id = world.event_id_for(view.last_event_id);
        view.last_event_id = last_event_id;
        auto reply = world.handle(view);
        if (!reply) break;   // a tool is sleeping on a timer: the world ends here
        world.write_sse(*reply);
        if (!req.keep_alive() || reply->close_connection) break;
    }
    return 0;
}
