// Fuzz target: a JSON-RPC request body. jsonrpc::parse with the server's depth limit and classify() on the
// message (or on each element of a batch), then the same body POSTed through McpEndpoint::handle: once
// without a session (initialize and the checks before any session lookup) and once in a live session of
// each protocol revision (2025-03-26 accepts batches; 2025-06-18/2025-11-25 refuse them; 2025-11-25
// reports invalid tool arguments as tool errors).
//
// Properties: no crash/UB/leak; no exception out of handle(); the per-token limits (string bytes, number
// characters) refuse exactly what exceeds them; classify() and the reply builders agree
// (an id it reads back is a string or an integer; error() is valid JSON echoing that id);
// every JSON reply and SSE payload is valid JSON.
#include "fuzz_support.hpp"
#include "server/mcp/json_rpc.hpp"
#include "support/endpoint_request.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace rollout_mcp;
namespace json = boost::json;

void check_message(const json::value& element) {
    const auto message = jsonrpc::classify(element);
    const auto& id = message.id;
    if (!(id.is_null() || id.is_string() || id.is_int64() || id.is_uint64()))
        fuzz::fail("classify() kept an id that is not a string, an integer or null", json::serialize(element));
    if (message.kind == jsonrpc::Kind::request && id.is_null()) fuzz::fail("a request without an id", json::serialize(element));
    if (message.kind == jsonrpc::Kind::invalid && message.problem.empty()) fuzz::fail("invalid without a problem");
    if (message.params && !element.is_object()) fuzz::fail("params outside an object");
    const auto error = jsonrpc::error(id, jsonrpc::code::invalid_request, "Invalid Request: " + message.problem);
    fuzz::check_json_text(error, "jsonrpc::error()");
    const auto reply = json::parse(error);
    if (!id.is_null() && !(reply.as_object().at("id") == id)) fuzz::fail("error() changed the id", error);
    (void)jsonrpc::id_key(id);
}

// The longest decoded string or key in a document.
std::size_t longest_string(const json::value& v) {
    std::size_t longest = 0;
    if (const auto* s = v.if_string()) return s->size();
    if (const auto* a = v.if_array())
        for (const auto& e : *a) longest = std::max(longest, longest_string(e));
    if (const auto* o = v.if_object())
        for (const auto& [key, e] : *o) longest = std::max({longest, key.size(), longest_string(e)});
    return longest;
}

// The per-token limits, made tight: they refuse only what the longest string / number exceeds, a document
// they accept holds no longer string, and they never accept what the depth limit alone refuses.
void check_token_limits(std::string_view body, std::size_t max_depth, bool parsed) {
    constexpr std::size_t tight = 8;
    const auto doc = jsonrpc::parse(body, {max_depth, tight, tight});
    if (doc && !parsed) fuzz::fail("token limits accepted what the parser alone refused");
    if (!parsed) return;
    const auto sizes = jsonrpc::longest_tokens(body);
    const bool over = sizes.string_bytes > tight || sizes.number_chars > tight;
    if (doc.has_value() == over) fuzz::fail("token limits disagree with longest_tokens()", doc ? std::string() : doc.error().message);
    if (doc && longest_string(*doc) > tight) fuzz::fail("a string past max_string_bytes was accepted");
}

HttpRequest post(std::string_view body, std::string_view session, std::string_view version) {
    HttpRequest r = rollout_mcp::test::mcp_post(body);
    r.session_id = session;
    r.protocol_version = version;
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    fuzz::World world;

    const auto doc = jsonrpc::parse(body, parse_limits(world.config().mcp));
    if (doc) {
        if (const auto* batch = doc->if_array())
            for (const auto& element : *batch) check_message(element);
        else
            check_message(*doc);
    } else if (doc.error().message.empty()) {
        fuzz::fail("parse failed without saying why");
    }
    check_token_limits(body, world.config().mcp.max_json_depth, doc.has_value());

    if (auto reply = world.handle(post(body, {}, {}))) world.write_sse(*reply);
    static constexpr std::string_view placeholders[] = {"s1", "s2", "s3"};
    static constexpr std::string_view versions[] = {"2025-03-26", "2025-06-18", "2025-11-25"};
    for (int i = 0; i < 3; ++i) {
        const std::string session = world.session_for(placeholders[i]);
        auto reply = world.handle(post(body, session, versions[i]));
        if (!reply) break;   // a fixture tool sleeps on a timer: the world ends here
        world.write_sse(*reply);
    }
    return 0;
}
