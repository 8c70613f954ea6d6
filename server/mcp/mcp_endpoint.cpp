// Streamable HTTP transport rules for the /mcp endpoint, in the order of docs/ARCHITECTURE.md, "Transport rules".
#include "server/mcp/mcp_endpoint.hpp"
#include "base/ascii.hpp"

#include "base/loopback.hpp"
#include "base/use_nothrow.hpp"
#include "server/app/observability.hpp"
#include "server/mcp/sse.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/json/serialize.hpp>
#include <openssl/rand.h>

#include <algorithm>

namespace rollout_mcp {
namespace json = boost::json;

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// "localhost:8080" -> "localhost", "[::1]:80" -> "[::1]"; nullopt when malformed.
std::optional<std::string_view> host_name(std::string_view host) {
    if (host.empty()) return std::nullopt;
    if (host.front() == '[') {
        auto close = host.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        auto rest = host.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) return std::nullopt;
        return host.substr(0, close + 1);
    }
    auto colon = host.find(':');
    if (colon == std::string_view::npos) return host;
    auto port = host.substr(colon + 1);
    if (port.empty() || !std::all_of(port.begin(), port.end(), ::isdigit)) return std::nullopt;
    return host.substr(0, colon);
}

std::uint32_t random_epoch() {
    std::uint32_t epoch = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&epoch), sizeof epoch);
    return epoch;
}

}  // namespace

bool accepts_media_type(std::string_view accept, std::string_view type) {
    const auto slash = type.find('/');
    while (!accept.empty()) {
        auto comma = accept.find(',');
        auto item = trim(accept.substr(0, comma));
        item = trim(item.substr(0, item.find(';')));
        if (ascii_iequals(item, type) || item == "*/*") return true;
        if (item.size() == slash + 2 && item.substr(slash) == "/*" && ascii_iequals(item.substr(0, slash), type.substr(0, slash)))
            return true;
        if (comma == std::string_view::npos) break;
        accept.remove_prefix(comma + 1);
    }
    return false;
}

McpEndpoint::McpEndpoint(const Config& config, const ToolRegistry& tools, mcp::SessionStore& sessions,
                         Authenticator& auth, SessionlessServices sessionless)
    : config_(config), sessions_(sessions), auth_(auth), epoch_(random_epoch()),
      rate_limiter_(TeamRateSettings{config.mcp.requests_per_second_per_team,
                                     static_cast<double>(config.mcp.request_burst_per_team), config.mcp.max_pace_wait,
                                     config.mcp.max_paced_requests_per_team}),
      dispatch_(config, tools, rate_limiter_, epoch_), listen_(sessionless.listen), tasks_(sessionless.tasks),
      sessionless_(config, tools, dispatch_, std::move(sessionless)) {}

void McpEndpoint::begin_shutdown() {
    shutting_down_ = true;
    if (listen_) listen_->close_all();
    if (tasks_) tasks_->shutdown();
}

bool McpEndpoint::host_allowed(std::string_view host) const {
    auto name = host_name(host);
    if (!name) return false;
    for (const auto& allowed : config_.server.allowed_hosts)
        if (allowed == "*" || ascii_iequals(allowed, *name)) return true;
    return false;
}

bool McpEndpoint::origin_allowed(std::string_view origin) const {
    for (const auto& allowed : config_.server.allowed_origins)
        if (allowed == "*" || ascii_iequals(allowed, origin)) return true;
    // Loopback pages are always allowed: DNS rebinding needs a foreign origin.
    std::string_view rest;
    if (origin.substr(0, 7) == "http://") rest = origin.substr(7);
    else if (origin.substr(0, 8) == "https://") rest = origin.substr(8);
    else return false;
    auto name = host_name(rest);
    return name && is_loopback_host(*name);
}

boost::asio::awaitable<HttpReply> McpEndpoint::handle(const HttpRequest& request) {
    // DNS-rebinding protection comes before anything else reads the request.
    if (!host_allowed(request.host)) co_return transport_error(403, -32000, "Forbidden: Host header is not allowed");
    if (request.has_origin && !origin_allowed(request.origin))
        co_return transport_error(403, -32000, "Forbidden: Origin is not allowed");
    // auth.mode = "none" trusts the loopback bind to mean a local client; a same-host reverse proxy would
    // hand it the world. Proxies usually announce themselves with one of these headers (a heuristic only).
    if (config_.auth.mode == "none" && !request.proxy_header.empty())
        co_return transport_error(403, -32000,
                                  "Forbidden: auth.mode = \"none\" serves loopback clients only; this request came "
                                  "through a proxy (" + std::string(request.proxy_header) + ")");
    const auto auth = co_await auth_.authenticate(request.authorization);
    if (auth.status == AuthOutcome::Status::unavailable) {
        auto reply = transport_error(503, -32000, "Service Unavailable: cannot check credentials right now; retry later");
        reply.headers.emplace_back("Retry-After", "1");
        co_return reply;
    }
    if (auth.status != AuthOutcome::Status::ok) {
        auto reply = transport_error(401, -32001, "Unauthorized: send a valid API key as \"Authorization: Bearer <key>\"");
        reply.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"rollout-mcp\"");
        co_return reply;
    }
    const std::string& tenant = auth.tenant;
    // Pacing comes before the body is parsed: a flooding team's excess costs a timer or a 429, no JSON
    // parsing and no dispatch. (The body has been read by then: server.max_body_bytes bounds that.)
    const auto pace = rate_limiter_.acquire(tenant, TeamRateLimiter::Clock::now());
    if (pace.kind == TeamRateLimiter::Decision::Kind::refuse) {
        observe::paced_requests().with({"refused"}).inc();
        auto reply = transport_error(429, -32000, "Too Many Requests: this team is over its request rate "
                                                  "([mcp] requests_per_second_per_team); retry after the Retry-After seconds");
        reply.headers.emplace_back("Retry-After", std::to_string(pace.retry_after.count()));
        co_return reply;
    }
    if (pace.kind == TeamRateLimiter::Decision::Kind::wait) {
        observe::paced_requests().with({"waited"}).inc();
        // The waiting count drops however the wait ends, the coroutine destroyed at shutdown included.
        struct WaitSlot {
            TeamRateLimiter& limiter;
            const std::string& team;
            ~WaitSlot() { limiter.done_waiting(team); }
        } slot{rate_limiter_, tenant};
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, pace.wait);
        co_await timer.async_wait(use_nothrow);   // cancelled: go on at once
    }
    if (shutting_down_) {
        auto reply = transport_error(503, -32000, "Service Unavailable: the server is shutting down");
        reply.close_connection = true;
        co_return reply;
    }
    if (request.method == "POST") co_return co_await handle_post(request, tenant);
    // 2026-07-28 has no session streams and nothing to end: only POST (a GET or DELETE without a session that
    // names that revision is answered so, not with the 2025 "session id required").
    if ((request.method == "GET" || request.method == "DELETE") && request.session_id.empty() &&
        mcp::parse_revision(request.protocol_version) == mcp::Revision::v2026_07_28) {
        auto reply = transport_error(405, -32000, "Method Not Allowed: protocol revision 2026-07-28 uses POST only");
        reply.headers.emplace_back("Allow", "POST");
        co_return reply;
    }
    if (request.method == "GET") co_return co_await handle_get(request, tenant);
    if (request.method == "DELETE") co_return co_await handle_delete(request, tenant);
    auto reply = transport_error(405, -32000, "Method Not Allowed");
    reply.headers.emplace_back("Allow", "GET, POST, DELETE");
    co_return reply;
}

// Why a session could not be found, created or adopted, as the client is told.
HttpReply McpEndpoint::session_miss(mcp::SessionLookup::Miss miss) {
    if (miss == mcp::SessionLookup::Miss::full) {
        auto reply = transport_error(503, jsonrpc::code::server_busy,
                                     "Service Unavailable: too many sessions; retry later or end unused sessions");
        reply.headers.emplace_back("Retry-After", "5");
        return reply;
    }
    if (miss == mcp::SessionLookup::Miss::unavailable) {
        auto reply = transport_error(503, -32000, "Service Unavailable: cannot reach the session store; retry later");
        reply.headers.emplace_back("Retry-After", "1");
        return reply;
    }
    return transport_error(404, -32001, "Session not found");
}

boost::asio::awaitable<std::shared_ptr<mcp::Session>> McpEndpoint::session_for(const HttpRequest& request,
                                                                               const std::string& tenant,
                                                                               std::optional<HttpReply>& error) {
    if (request.session_id.empty()) {
        error = transport_error(400, -32000, "Bad Request: Mcp-Session-Id header is required");
        co_return nullptr;
    }
    auto found = co_await sessions_.lookup(request.session_id, tenant);
    auto session = std::move(found.session);
    if (!session) {
        error = session_miss(found.miss);
        co_return nullptr;
    }
    const auto header_revision = mcp::parse_revision(request.protocol_version);
    if (!request.protocol_version.empty() && (!header_revision || !mcp::policy(*header_revision).sessions)) {
        // The header's bytes are not echoed: they may be anything, and the body must stay valid JSON.
        error = transport_error(400, -32000,
                                "Bad Request: Unsupported protocol version in MCP-Protocol-Version (supported: 2025-11-25, 2025-06-18, 2025-03-26)");
        co_return nullptr;
    }
    session->touch();
    co_return session;
}

boost::asio::awaitable<HttpReply> McpEndpoint::handle_post(const HttpRequest& request, const std::string& tenant) {
    if (!accepts_media_type(request.accept, "application/json") ||
        !accepts_media_type(request.accept, "text/event-stream"))
        co_return transport_error(406, -32000,
                                  "Not Acceptable: Accept must include application/json and text/event-stream");
    auto content_type = trim(request.content_type.substr(0, request.content_type.find(';')));
    if (!ascii_iequals(content_type, "application/json"))
        co_return transport_error(415, -32000, "Unsupported Media Type: Content-Type must be application/json");

    auto doc = jsonrpc::parse(request.body, parse_limits(config_.mcp));
    if (!doc) co_return transport_error(400, jsonrpc::code::parse_error, "Parse error: " + doc.error().message);

    if (!doc->is_array()) {
        auto message = jsonrpc::classify(*doc);
        // Not a JSON-RPC message: 400 -32600 before any session lookup (docs/ARCHITECTURE.md, "Transport rules").
        if (message.kind == jsonrpc::Kind::invalid)
            co_return transport_error(400, jsonrpc::code::invalid_request, "Invalid Request: " + message.problem);
        // 2026-07-28 requests carry their revision and need no session (docs/ARCHITECTURE.md, "Two protocol eras").
        if (mcp::is_sessionless(request, message)) co_return co_await sessionless_.handle(request, message, tenant);
        if (message.kind == jsonrpc::Kind::request && message.method == "initialize") {
            // A live session must not be initialized twice; a stale id is simply replaced.
            if (!request.session_id.empty()) {
                const auto live = co_await sessions_.lookup(request.session_id, tenant);
                if (live.session)
                    co_return transport_error(400, jsonrpc::code::invalid_request,
                                              "Invalid Request: the session is already initialized");
            }
            co_return co_await handle_initialize(message, tenant);
        }
    }

    // A batch without a session under 2026-07-28, which has neither.
    if (doc->is_array() && request.session_id.empty() && request.has_protocol_version &&
        mcp::parse_revision(request.protocol_version) == mcp::Revision::v2026_07_28)
        co_return transport_error(400, jsonrpc::code::invalid_request,
                                  "Invalid Request: protocol revision 2026-07-28 has no JSON-RPC batches");
    std::optional<HttpReply> error;
    auto session = co_await session_for(request, tenant, error);
    if (!session) co_return std::move(*error);

    if (const auto* batch = doc->if_array()) {
        if (!mcp::policy(session->revision()).batching)
            co_return transport_error(400, jsonrpc::code::invalid_request,
                                      "Invalid Request: JSON-RPC batches are not supported in protocol revision " +
                                          std::string(mcp::to_string(session->revision())));
        co_return co_await dispatch_.batch(session, *batch);
    }

    auto message = jsonrpc::classify(*doc);
    switch (message.kind) {
        case jsonrpc::Kind::invalid:
            co_return transport_error(400, jsonrpc::code::invalid_request, "Invalid Request: " + message.problem);
        case jsonrpc::Kind::notification:
            dispatch_.notification(*session, message);
            [[fallthrough]];
        case jsonrpc::Kind::response: {
            HttpReply accepted;
            accepted.status = 202;
            co_return accepted;
        }
        case jsonrpc::Kind::request:
            if (message.method == "initialize")
                co_return json_reply(jsonrpc::error(message.id, jsonrpc::code::invalid_request,
                                                    "Invalid Request: the session is already initialized"));
            co_return co_await dispatch_.request(session, message, true);
    }
    co_return transport_error(500, jsonrpc::code::internal_error, "Internal error");
}

boost::asio::awaitable<HttpReply> McpEndpoint::handle_initialize(const jsonrpc::Message& message,
                                                                 const std::string& tenant) {
    const json::value* requested = message.params ? message.params->if_contains("protocolVersion") : nullptr;
    if (!requested || !requested->is_string())
        co_return json_reply(jsonrpc::error(message.id, jsonrpc::code::invalid_params,
                                            "Invalid params: initialize needs params.protocolVersion (a string)"));
    const auto revision = mcp::negotiate(requested->get_string());
    // A shared store has written the session's row by the time this returns: any instance can serve it next.
    auto opened = co_await sessions_.open(tenant, revision);
    auto session = std::move(opened.session);
    if (!session) co_return session_miss(opened.miss);
    json::object server_info{{"name", "rollout-mcp"}, {"version", "0.1.0"}};
    if (mcp::policy(revision).structured_output) server_info["title"] = "Rollout CRM sync for REanna Router";
    json::object result{
        {"protocolVersion", mcp::to_string(revision)},
        {"capabilities", json::object{{"tools", json::object{{"listChanged", false}}}, {"logging", json::object{}}}},
        {"serverInfo", std::move(server_info)},
        {"instructions",
         "Sync REanna Router tours and buyer feedback into the team's CRMs through Rollout. Configure Rollout "
         "first (configure_rollout), connect CRMs (configure_crm_connection), then call sync_tour_data or "
         "sync_feedback_data."},
    };
    auto reply = json_reply(jsonrpc::result(message.id, result));
    reply.headers.emplace_back("Mcp-Session-Id", session->id());
    co_return reply;
}

boost::asio::awaitable<HttpReply> McpEndpoint::handle_get(const HttpRequest& request, const std::string& tenant) {
    if (!accepts_media_type(request.accept, "text/event-stream"))
        co_return transport_error(406, -32000, "Not Acceptable: Accept must include text/event-stream");
    std::optional<HttpReply> error;
    auto session = co_await session_for(request, tenant, error);
    if (!session) co_return std::move(*error);
    co_return resume_or_listen(request, *session);
}

// A GET stream: resumption of one of this instance's streams (Last-Event-ID), or the standalone stream. Streams
// live in the memory of the instance that runs them: another instance's event id (another epoch) is refused with
// 400, which is why GET streams need routing on Mcp-Session-Id (README, "Several instances on PostgreSQL").
HttpReply McpEndpoint::resume_or_listen(const HttpRequest& request, mcp::Session& session) {
    SseReply sse;
    sse.epoch = epoch_;
    sse.retry_ms = static_cast<std::uint64_t>(config_.mcp.sse_retry.count());
    if (request.has_last_event_id) {
        auto id = sse::parse_event_id(request.last_event_id);
        if (!id || id->epoch != epoch_)
            return transport_error(400, -32000,
                                   "Bad Request: Last-Event-ID is malformed or from another server run or instance");
        auto stream = session.find_stream(id->stream);
        if (!stream) return transport_error(400, -32000, "Bad Request: Last-Event-ID names no stream of this session");
        switch (stream->attach(id->seq, nullptr, true, &sse.generation)) {
            case mcp::EventStream::Attach::ok: break;
            case mcp::EventStream::Attach::busy:
                return transport_error(409, -32000, "Conflict: the stream is already being read");
            case mcp::EventStream::Attach::gone: return transport_error(404, -32001, "Session not found");
            case mcp::EventStream::Attach::too_old:
                return transport_error(409, -32000, "Conflict: events after Last-Event-ID are no longer available");
        }
        sse.stream = std::move(stream);
        sse.after_seq = id->seq;
    } else {
        auto stream = session.standalone_stream();
        const auto from = stream->last_seq();
        switch (stream->attach(from, nullptr, false, &sse.generation)) {
            case mcp::EventStream::Attach::ok: break;
            case mcp::EventStream::Attach::gone: return transport_error(404, -32001, "Session not found");
            default: return transport_error(409, -32000, "Conflict: only one GET stream is allowed per session");
        }
        sse.stream = std::move(stream);
        sse.after_seq = from;
        sse.prime = mcp::policy(session.revision()).sse_priming;
    }
    HttpReply reply;
    reply.sse = std::move(sse);
    reply.headers.emplace_back("Mcp-Session-Id", session.id());
    return reply;
}

boost::asio::awaitable<HttpReply> McpEndpoint::handle_delete(const HttpRequest& request, const std::string& tenant) {
    std::optional<HttpReply> error;
    auto session = co_await session_for(request, tenant, error);
    if (!session) co_return std::move(*error);
    // A shared store deletes the row (every instance stops serving the session) before this answers.
    if (!co_await sessions_.end(session->id(), tenant)) co_return session_miss(mcp::SessionLookup::Miss::unavailable);
    HttpReply reply;
    reply.status = 200;
    co_return reply;
}

}  // namespace rollout_mcp
