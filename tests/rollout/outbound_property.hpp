// The property the outbound request builder must keep, shared by the fuzz target
// (tests/fuzz/fuzz_outbound_request.cpp) and the unit test over hostile inputs: whatever a caller passes,
// an accepted request serializes to bytes that parse back as exactly ONE request, with no bytes left over,
// the same target, the same header values and nothing else. Header-only; links against rollout only.
#pragma once

#include "rollout/outbound_request.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>

namespace rollout_mcp::rollout::test {

// nullopt when the property holds (including when the builder refused); else what broke it.
inline std::optional<std::string> outbound_property_violation(const HttpRequest& request) {
    namespace http = boost::beast::http;
    auto endpoint = parse_endpoint(request.url);
    if (!endpoint) return std::nullopt;
    auto built = build_request(request, *endpoint);
    if (!built) {
        if (built.error().code != ErrorKind::permanent || built.error().status != 0)
            return "a refusal that is not permanent with status 0";
        // Refusals never echo an offending value (it may be a secret or an attack string).
        for (const auto& [name, value] : request.headers)
            if (find_forbidden_header_byte(value) != std::string_view::npos &&
                built.error().message.find(value) != std::string::npos)
                return "a refusal echoes a header value: " + built.error().message;
        return std::nullopt;
    }
    auto bytes = build_request_bytes(request, *endpoint);
    if (!bytes) return "build_request accepted but build_request_bytes refused";
    const std::string& wire = *bytes;

    http::request_parser<http::string_body> parser;
    parser.eager(true);
    parser.header_limit(1u << 30);
    parser.body_limit(1u << 30);
    std::size_t used = 0;
    while (!parser.is_done() && used < wire.size()) {
        boost::system::error_code ec;
        const auto n = parser.put(boost::asio::buffer(wire.data() + used, wire.size() - used), ec);
        if (ec && ec != http::error::need_more) return "the serialized request does not parse: " + ec.message();
        if (n == 0) break;
        used += n;
    }
    if (!parser.is_done()) return "the serialized request is incomplete";
    if (used != wire.size()) return "bytes left over after one request: a second request could follow";
    const auto& msg = parser.get();
    if (msg.target() != endpoint->target) return "the request target changed on the wire";
    if (msg.body() != request.body) return "the body changed on the wire";

    auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
        return s;
    };
    std::map<std::string, std::string> want;  // the last value per name, as the builder's set() keeps it
    for (const auto& [name, value] : request.headers) want[lower(name)] = value;
    std::map<std::string, int> seen;
    for (const auto& f : msg) ++seen[lower(std::string(f.name_string()))];
    for (const auto& [name, value] : want) {
        if (seen[name] != 1) return "header " + name + " is not on the wire exactly once";
        if (msg[name] != value) return "header " + name + " changed on the wire";
    }
    const auto& sent = built.value();
    std::size_t sent_fields = 0;
    for (auto it = sent.begin(); it != sent.end(); ++it) ++sent_fields;
    std::size_t parsed_fields = 0;
    for (const auto& [name, n] : seen) parsed_fields += static_cast<std::size_t>(n);
    if (sent_fields != parsed_fields) return "the wire carries a different number of header lines than were set";
    return std::nullopt;
}

}  // namespace rollout_mcp::rollout::test
