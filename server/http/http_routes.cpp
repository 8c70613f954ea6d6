// Routing one request, and the webhook path's own rules: it takes no API key (the route and the signature
// authenticate a delivery), it is not MCP (no Origin or session rules), and auth.mode = "none"'s refusal of
// proxied requests does not apply to it: Rollout reaches it through whatever proxy serves public_url.
// Its Host may be public_url's host besides [server] allowed_hosts (DNS rebinding matters to browsers,
// which cannot sign a delivery).
#include "server/http/http_routes.hpp"

#include "base/ascii.hpp"

#include "server/app/hook_receiver.hpp"
#include "server/app/metrics.hpp"
#include "server/mcp/mcp_endpoint.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

HttpReply small_json(unsigned status, json::object body) {
    HttpReply r;
    r.status = status;
    r.content_type = "application/json";
    r.body = json::serialize(body);
    return r;
}

std::string_view path_of(const BeastRequest& request) {
    const auto target = sv(request.target());
    return target.substr(0, target.find('?'));
}

std::optional<std::string_view> hook_route(const ServerShared& shared, const BeastRequest& request) {
    if (!shared.public_url || !shared.hooks) return std::nullopt;
    return hook_route_of(path_of(request), shared.public_url->path_prefix);
}

// "host[:port]" -> host, the way McpEndpoint::host_allowed reads it (a bracketed IPv6 literal kept whole).
std::string_view host_name(std::string_view host) {
    if (!host.empty() && host.front() == '[') return host.substr(0, host.find(']') + 1);
    return host.substr(0, host.find(':'));
}

bool hook_host_allowed(const ServerShared& shared, std::string_view host) {
    const auto name = host_name(host);
    if (name.empty()) return false;
    if (ascii_iequals(name, shared.public_url->host)) return true;
    return shared.endpoint.host_allowed(host);
}

asio::awaitable<HttpReply> serve_hook(ServerShared& shared, const BeastRequest& request, std::string_view route) {
    if (!hook_host_allowed(shared, sv(request[http::field::host])))
        co_return small_json(403, {{"error", "Host header is not allowed"}});
    if (request.method() != http::verb::post) {
        auto reply = small_json(405, {{"error", "method not allowed: Rollout delivers with POST"}});
        reply.headers.emplace_back("Allow", "POST");
        co_return reply;
    }
    const HookRequest hook{route, sv(request["X-Rollout-Signature"]), request.body()};
    const HookAnswer answer = co_await shared.hooks->receive(hook);
    auto reply = small_json(answer.status, {{answer.status < 300 ? "status" : "error", answer.message}});
    if (answer.retry_after.count() > 0) reply.headers.emplace_back("Retry-After", std::to_string(answer.retry_after.count()));
    co_return reply;
}

}  // namespace

std::optional<HttpReply> limit_hook_body(const ServerShared& shared, BeastRequestParser& parser) {
    if (!hook_route(shared, parser.get())) return std::nullopt;
    const auto declared = parser.content_length();
    if (declared && *declared > kMaxHookBodyBytes) {
        return small_json(413, {{"error", "a delivery may be at most " + std::to_string(kMaxHookBodyBytes) + " bytes"}});
    }
    parser.body_limit(kMaxHookBodyBytes);   // a chunked body over it fails the read: 413 and a close
    return std::nullopt;
}

asio::awaitable<HttpReply> route(ServerShared& shared, const BeastRequest& req) {
    const auto path = path_of(req);
    const bool get = req.method() == http::verb::get;
    if (path == "/healthz" && get) co_return small_json(200, {{"status", "ok"}});
    if (path == "/readyz" && get) {
        auto state = shared.readiness ? shared.readiness() : json::object{{"ready", true}};
        if (shared.stopping) state["ready"] = false;
        const bool ready = state["ready"].is_bool() && state["ready"].get_bool();
        co_return small_json(ready ? 200 : 503, std::move(state));
    }
    if (path == "/metrics" && get) {
        HttpReply r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = metrics::registry().render();
        co_return r;
    }
    if (path == shared.config.server.mcp_path) co_return co_await shared.endpoint.handle(view_of(req));
    if (auto hook = hook_route(shared, req)) co_return co_await serve_hook(shared, req, *hook);
    co_return small_json(404, {{"error", "not found"}});
}

}  // namespace rollout_mcp
