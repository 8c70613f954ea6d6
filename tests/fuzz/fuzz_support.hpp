// Shared pieces of the libFuzzer harnesses: a fresh McpEndpoint "world" per input (config defaults, the
// fixture tools, an in-memory session store, an authenticator answering one fixed tenant), driven on a
// local io_context, plus the oracles every reply must satisfy.
//
// Timers: the fixture tools that stream (logging, progress, reconnection) sleep 50-100 ms between steps.
// A harness never waits for a timer: run() polls the io_context until no handler is ready and returns;
// whatever is still waiting on a timer is destroyed with the world (as at server shutdown). Everything
// that can run without the clock advancing does run, so one input costs microseconds, not 100 ms.
#pragma once

#include "support/endpoint_request.hpp"
#include "fuzz_common.hpp"

#include "server/mcp/auth.hpp"
#include "server/app/config.hpp"
#include "server/fixtures/fixture_tools.hpp"
#include "server/mcp/http_message.hpp"
#include "server/app/log.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/sessionless_dispatch.hpp"
#include "server/mcp/protocol.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/sse.hpp"
#include "server/mcp/tool_registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp::fuzz {

// Quiet logs (tool calls log at info) once per process.
inline void init_once() {
    static const bool done = [] {
        log::set_level(log::Level::error);
        return true;
    }();
    (void)done;
}

// What 2026-07-28 requests use (listen streams, tasks, sealed request state), once per process like the tools.
inline SessionlessServices& sessionless_services() {
    static SessionlessServices* services = [] {
        auto* s = new SessionlessServices;
        s->listen = new mcp::ListenHub;
        s->tasks = new mcp::TaskRouter;
        s->request_state = new mcp::RequestStateCodec(std::string(32, 'f'), std::chrono::minutes(10));
        return s;
    }();
    return *services;
}

// The fixture tools, registered once per process (registration compiles the schemas).
inline const ToolRegistry& fixture_registry() {
    static const ToolRegistry* registry = [] {
        auto* r = new ToolRegistry;
        register_fixture_tools(*r, sessionless_services());
        return r;
    }();
    return *registry;
}

// Every reply body the server sends as JSON must be one well-formed JSON text, in UTF-8 (RFC 8259 8.1).
// Finding "utf8": request bytes that are not UTF-8 echoed into a JSON reply.
inline void check_json_text(std::string_view text, std::string_view where) {
    boost::json::parse_options lax;
    lax.allow_invalid_utf8 = true;
    boost::system::error_code ec;
    (void)boost::json::parse(text, ec, {}, lax);
    if (ec) fail(std::string(where) + " is not valid JSON (" + ec.message() + ")", text);
    (void)boost::json::parse(text, ec);
    if (ec) finding("utf8", std::string(where) + " is not UTF-8 (" + ec.message() + ")", text);
}

class World {
public:
    World() : sessions_(mcp::make_in_memory_session_store({})), auth_(make_single_tenant_auth("default")) {
        init_once();
        const auto& tools = fixture_registry();   // registers the fixture prompt and task backend first
        endpoint_ = std::make_unique<McpEndpoint>(config_, tools, *sessions_, *auth_, sessionless_services());
    }
    ~World() {
        // Handlers still waiting on a timer hold sessions and refer to the endpoint: drop them first.
        io_.reset();
    }
    World(const World&) = delete;
    World& operator=(const World&) = delete;

    const Config& config() const { return config_; }
    McpEndpoint& endpoint() { return *endpoint_; }
    mcp::SessionStore& sessions() { return *sessions_; }

    // Runs McpEndpoint::handle to completion, or until only timers are left (nullopt then). `request`
    // (and what it views) must outlive the world. An exception out of handle() is a bug: the connection
    // would die without an answer.
    std::optional<HttpReply> handle(const HttpRequest& request) {
        std::optional<HttpReply> reply;
        std::exception_ptr error;
        bool done = false;
        boost::asio::co_spawn(*io_, endpoint_->handle(request), [&](std::exception_ptr ep, HttpReply r) {
            done = true;
            error = ep;
            if (!ep) reply = std::move(r);
        });
        poll();
        if (error) fail("McpEndpoint::handle threw", what_of(error));
        if (!done) return std::nullopt;
        check_reply(*reply);
        return reply;
    }

    // Runs every ready handler (tool coroutines spawned by earlier requests included); never waits.
    void poll() {
        for (int rounds = 0; rounds < 10'000; ++rounds) {
            io_->restart();
            if (io_->poll() == 0) return;
        }
        fail("io_context never went idle");
    }

    // The session a placeholder id names ("s1" 2025-03-26, "s2" 2025-06-18, "s3" 2025-11-25), created on
    // first use through a real initialize request; empty for any other text.
    std::string session_for(std::string_view placeholder) {
        static constexpr const char* versions[] = {"2025-03-26", "2025-06-18", "2025-11-25"};
        if (placeholder.size() != 2 || placeholder[0] != 's' || placeholder[1] < '1' || placeholder[1] > '3') return {};
        auto& id = session_ids_[placeholder[1] - '1'];
        if (!id.empty() && sessions_->find(id, "default")) return id;
        const std::string body = std::string(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")") +
                                 versions[placeholder[1] - '1'] + R"(","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}})";
        auto reply = handle(test::mcp_post(body, "localhost"));
        if (!reply || reply->status != 200) fail("initialize of a placeholder session failed", reply ? reply->body : "");
        id = test::header_of(*reply, "Mcp-Session-Id");
        if (id.empty()) fail("initialize answered without Mcp-Session-Id");
        return id;
    }

    // Substitutes the server's epoch for a leading "EPOCH" in a Last-Event-ID (the epoch is random per
    // endpoint, so a corpus could never name it).
    std::string event_id_for(std::string_view text) const {
        if (text.substr(0, 5) != "EPOCH") return std::string(text);
        char hex[9];
        std::snprintf(hex, sizeof hex, "%08x", endpoint_->epoch());
        return hex + std::string(text.substr(5));
    }

    // What a connection would write for an SSE reply right now (priming event + every available event),
    // then detaches like the writer does. Each event id must parse back; each payload must be JSON.
    void write_sse(HttpReply& reply) {
        if (!reply.sse) return;
        auto& sse = *reply.sse;
        std::string out;
        std::uint64_t cursor = sse.after_seq;
        if (sse.prime) sse::append_priming_event(out, {sse.epoch, sse.stream->number(), cursor}, sse.retry_ms);
        auto batch = sse.stream->take(cursor, sse.generation);
        for (const auto& [seq, payload] : batch.events) {
            if (payload->find('\n') != std::string::npos || payload->find('\r') != std::string::npos)
                fail("SSE payload spans lines", *payload);
            check_json_text(*payload, "an SSE event payload");
            const sse::EventId id{sse.epoch, sse.stream->number(), seq};
            auto parsed = sse::parse_event_id(sse::format_event_id(id));
            if (!parsed || !(*parsed == id)) fail("an SSE event id does not parse back", sse::format_event_id(id));
            sse::append_message_event(out, id, *payload);
        }
        sse.stream->detach(sse.generation);
    }

private:
    void check_reply(const HttpReply& reply) {
        if (reply.status < 100 || reply.status > 599) fail("reply status out of range", std::to_string(reply.status));
        if (reply.sse && !reply.sse->stream) fail("SSE reply without a stream");
        if (!reply.body.empty() && reply.content_type == "application/json") check_json_text(reply.body, "a JSON reply");
        for (const auto& [name, value] : reply.headers)
            for (char c : name + value)
                if (c == '\r' || c == '\n' || c == '\0') fail("reply header with CR/LF/NUL", name + ": " + value);
    }

    Config config_;
    std::unique_ptr<mcp::SessionStore> sessions_;
    std::unique_ptr<Authenticator> auth_;
    std::unique_ptr<McpEndpoint> endpoint_;
    std::string session_ids_[3];
    std::unique_ptr<boost::asio::io_context> io_ = std::make_unique<boost::asio::io_context>(1);
};

}  // namespace rollout_mcp::fuzz
