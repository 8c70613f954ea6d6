// JSON-RPC method dispatch for a live session (see mcp_dispatch.hpp).
#include "server/mcp/mcp_dispatch.hpp"

#include "server/app/log.hpp"
#include "server/app/observability.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Whole numbers go out as integers ("50", not "5E1"): some clients compare them as text.
json::value number(double v) {
    if (std::floor(v) == v && std::fabs(v) < 9.0e15) return static_cast<std::int64_t>(v);
    return v;
}

// Progress and log notifications of one tools/call, written to its SSE stream (or dropped in JSON mode).
class CallContext final : public ToolContext {
public:
    CallContext(std::shared_ptr<mcp::Session> session, std::shared_ptr<mcp::EventStream> stream,
                json::value progress_token, CallInfo info, bool logs)
        : session_(std::move(session)), stream_(std::move(stream)), token_(std::move(progress_token)),
          info_(std::move(info)), logs_(logs) {}

    const CallInfo& call() const override { return info_; }

    const std::string& tenant() const override { return session_->tenant(); }
    mcp::Revision revision() const override { return session_->revision(); }

    void progress(double value, std::optional<double> total, std::string_view message) override {
        // Progress must increase with every notification; stale values are dropped, not sent.
        if (!stream_ || token_.is_null() || (sent_progress_ && value <= last_progress_)) return;
        sent_progress_ = true;
        last_progress_ = value;
        json::object params{{"progressToken", token_}, {"progress", number(value)}};
        if (total) params["total"] = number(*total);
        if (!message.empty()) params["message"] = message;
        stream_->append(jsonrpc::notification("notifications/progress", params));
    }

    void log(mcp::LogLevel level, json::value data) override {
        if (!stream_ || !logs_ || level < session_->log_level()) return;
        json::object params{{"level", mcp::to_string(level)}, {"logger", "rollout-mcp"}, {"data", std::move(data)}};
        stream_->append(jsonrpc::notification("notifications/message", params));
    }

    void end_sse_connection() override {
        if (stream_) stream_->request_connection_close();
    }

private:
    std::shared_ptr<mcp::Session> session_;
    std::shared_ptr<mcp::EventStream> stream_;
    json::value token_;
    CallInfo info_;
    bool logs_;
    bool sent_progress_ = false;
    double last_progress_ = 0;
};

// Parameters by value: the coroutine frame owns them while the handler runs detached.
asio::awaitable<ToolResult> run_handler(ToolHandler handler, std::shared_ptr<CallContext> ctx, json::object args) {
    co_return co_await handler(*ctx, args);
}

json::value progress_token_of(const json::object* params) {
    if (!params) return nullptr;
    const auto* meta = params->if_contains("_meta");
    if (!meta || !meta->is_object()) return nullptr;
    const auto* token = meta->get_object().if_contains("progressToken");
    if (token && (token->is_string() || token->is_int64() || token->is_uint64())) return *token;
    return nullptr;
}

bool is_tool_error(const ToolResult& result) {
    const auto* flag = result.if_contains("isError");
    return flag && flag->is_bool() && flag->get_bool();
}

std::string failure_message(std::exception_ptr ep) {
    try {
        std::rethrow_exception(ep);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

// The one place a tool call's reply is made, whichever way it is delivered: the JSON-RPC message and the
// outcome it is counted under. `cancelled`: the delivery has nothing of the call's to send (on an SSE stream
// a cancelled call gets no response; a JSON reply, which HTTP needs, carries the cancellation error when the
// handler stopped because of it, and the result when it finished anyway, as the spec allows:
// https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation).
struct FinishedCall {
    std::string message;
    std::string outcome;
    unsigned status = 200;   // for a plain JSON reply
};

FinishedCall finish_call(const std::string& tool, const json::value& id, bool cancelled, std::exception_ptr failure,
                         ToolResult result, mcp::Revision revision) {
    if (cancelled) return {jsonrpc::error(id, jsonrpc::code::request_cancelled, "Request cancelled"), "cancelled"};
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const ToolProtocolError& e) {
            // 2026-07-28 gives these errors HTTP 400; a 2025 client reads a JSON-RPC error only from a 200.
            const unsigned status = mcp::policy(revision).sessions ? 200 : 400;
            return {jsonrpc::error(id, e.code, e.what(), e.data.is_null() ? nullptr : &e.data), "refused", status};
        } catch (...) {
        }
        log::error("tool failed", {{"tool", tool}, {"error", failure_message(failure)}});
        return {jsonrpc::error(id, jsonrpc::code::internal_error, "Internal error while running " + tool), "failed"};
    }
    // 2026-07-28: every result says what it is; a task or input-required result already does.
    if (mcp::policy(revision).result_type && !result.contains("resultType")) result["resultType"] = "complete";
    const auto* type = result.if_contains("resultType");
    const bool task = type && type->is_string() && type->get_string() == "task";
    return {jsonrpc::result(id, result), task ? "task" : is_tool_error(result) ? "tool_error" : "ok"};
}

}  // namespace

void McpDispatcher::notification(mcp::Session& session, const jsonrpc::Message& message) {
    if (message.method == "notifications/cancelled" && message.params) {
        // Unknown, finished or malformed ids are ignored, as the spec allows.
        if (const auto* id = message.params->if_contains("requestId"))
            session.cancel_in_flight(jsonrpc::id_key(*id));
    }
    // notifications/initialized and anything unknown need no action.
}

std::string McpDispatcher::simple(mcp::Session& session, const jsonrpc::Message& message) {
    const auto& id = message.id;
    if (message.method == "ping") return jsonrpc::result(id, json::object{});
    if (message.method == "logging/setLevel") {
        const json::value* level = message.params ? message.params->if_contains("level") : nullptr;
        auto parsed = level && level->is_string() ? mcp::parse_log_level(level->get_string()) : std::nullopt;
        if (!parsed)
            return jsonrpc::error(id, jsonrpc::code::invalid_params,
                                  "Invalid params: level must be one of debug, info, notice, warning, error, "
                                  "critical, alert, emergency");
        session.set_log_level(*parsed);
        return jsonrpc::result(id, json::object{});
    }
    if (message.method == "tools/list") {
        std::string_view cursor;
        if (message.params) {
            if (const auto* c = message.params->if_contains("cursor")) {
                if (!c->is_string()) return jsonrpc::error(id, jsonrpc::code::invalid_params, "Invalid params: cursor must be a string");
                cursor = c->get_string();
            }
        }
        auto page = tools_.list_page(session.revision(), cursor, config_.mcp.tools_page_size);
        if (!page) return jsonrpc::error(id, jsonrpc::code::invalid_params, "Invalid params: unknown cursor");
        return jsonrpc::result_raw(id, *page);
    }
    return jsonrpc::error(id, jsonrpc::code::method_not_found, "Method not found: " + message.method);
}

asio::awaitable<HttpReply> McpDispatcher::request(std::shared_ptr<mcp::Session> session,
                                                  const jsonrpc::Message& message, bool allow_sse) {
    if (message.method == "tools/call") {
        const CallInfo in_session;   // named: see call_tool
        co_return co_await call_tool(std::move(session), message, allow_sse, in_session, true);
    }
    co_return json_reply(simple(*session, message));
}

asio::awaitable<HttpReply> McpDispatcher::call_tool(std::shared_ptr<mcp::Session> session,
                                                    const jsonrpc::Message& message, bool allow_sse,
                                                    const CallInfo& info, bool logs) {
    const auto& id = message.id;
    const json::value* name = message.params ? message.params->if_contains("name") : nullptr;
    if (!name || !name->is_string())
        co_return json_reply(jsonrpc::error(id, jsonrpc::code::invalid_params, "Invalid params: name must be a string"));
    const ToolDefinition* tool = tools_.find(name->get_string());
    if (!tool)
        co_return json_reply(jsonrpc::error(id, jsonrpc::code::invalid_params,
                                            "Invalid params: unknown tool \"" + std::string(name->get_string()) + "\""));
    if (tool->task_support == TaskSupport::required && !info.tasks)   // sessions have no Tasks extension
        co_return json_reply(jsonrpc::error(id, jsonrpc::code::invalid_params,
                                            "Invalid params: " + tool->name + " runs only as a task (protocol revision 2026-07-28 "
                                            "with the io.modelcontextprotocol/tasks extension)"));
    json::object args;
    if (const auto* a = message.params->if_contains("arguments")) {
        if (!a->is_object())
            co_return json_reply(jsonrpc::error(id, jsonrpc::code::invalid_params, "Invalid params: arguments must be an object"));
        args = a->get_object();
    }
    if (auto problem = tools_.validate_arguments(*tool, args)) {
        const std::string text = "Invalid arguments for " + tool->name + ": " + *problem;
        observe::tool_calls().with({tool->name, "invalid_arguments"}).inc();
        if (mcp::policy(session->revision()).invalid_arguments_as_tool_error)
            co_return json_reply(jsonrpc::result(id, text_result(text, true)));
        co_return json_reply(jsonrpc::error(id, jsonrpc::code::invalid_params, text));
    }

    const auto started = std::chrono::steady_clock::now();
    const auto executor = co_await asio::this_coro::executor;
    auto signal = std::make_shared<asio::cancellation_signal>();
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    const auto key = jsonrpc::id_key(id);
    auto canceller = [executor, signal, cancelled] {
        cancelled->store(true);
        asio::post(executor, [signal] { signal->emit(asio::cancellation_type::terminal); });
    };
    switch (session->add_in_flight(key, canceller)) {
        case mcp::Session::AddRequest::ok: break;
        case mcp::Session::AddRequest::duplicate_id:
            co_return json_reply(jsonrpc::error(id, jsonrpc::code::invalid_request,
                                                "Invalid Request: a request with this id is already in flight"));
        case mcp::Session::AddRequest::too_many:
            co_return json_reply(jsonrpc::error(id, jsonrpc::code::server_busy,
                                                "Too many requests in flight for this session; retry later"));
    }

    json::value token = progress_token_of(message.params);
    const bool use_sse = allow_sse && (tool->streams || !token.is_null());
    if (!use_sse) {   // delivered as the JSON body of this POST's reply
        auto ctx = std::make_shared<CallContext>(session, nullptr, nullptr, info, logs);
        ToolResult result;
        std::exception_ptr failure;
        try {
            result = co_await asio::co_spawn(executor, run_handler(tool->handler, ctx, std::move(args)),
                                             asio::bind_cancellation_slot(signal->slot(), asio::use_awaitable));
        } catch (...) {
            failure = std::current_exception();
        }
        session->remove_in_flight(key);
        auto done = finish_call(tool->name, id, cancelled->load() && failure, failure, std::move(result),
                                session->revision());
        observe::tool_finished(tool->name, done.outcome, started, session->tenant(), session->id(),
                               ctx->call().trace.traceparent);
        auto reply = json_reply(std::move(done.message));
        reply.status = done.status;
        co_return reply;
    }

    auto stream = session->open_post_stream();
    std::uint64_t generation = 0;
    stream->attach(0, nullptr, false, &generation);   // reserved for this connection before the handler emits
    auto ctx = std::make_shared<CallContext>(session, stream, std::move(token), info, logs);
    ++running_tools_;
    asio::co_spawn(executor, run_handler(tool->handler, ctx, std::move(args)),
                   asio::bind_cancellation_slot(
                       signal->slot(), [this, session, stream, signal, cancelled, key, started, id = json::value(id),
                                        tool_name = tool->name, ctx](std::exception_ptr failure, ToolResult result) {
                           // delivered as the last event of this call's SSE stream
                           session->remove_in_flight(key);
                           auto done = finish_call(tool_name, id, cancelled->load(), failure, std::move(result),
                                                   session->revision());
                           if (done.outcome == "cancelled") stream->mark_cancelled();
                           else stream->append(std::move(done.message), true);
                           observe::tool_finished(tool_name, done.outcome, started, session->tenant(), session->id(),
                                                  ctx->call().trace.traceparent);
                           --running_tools_;
                       }));
    HttpReply reply;
    SseReply sse;
    sse.stream = std::move(stream);
    sse.epoch = epoch_;
    sse.after_seq = 0;
    sse.generation = generation;
    sse.prime = mcp::policy(session->revision()).sse_priming;
    sse.retry_ms = static_cast<std::uint64_t>(config_.mcp.sse_retry.count());
    reply.sse = std::move(sse);
    co_return reply;
}

asio::awaitable<HttpReply> McpDispatcher::batch(std::shared_ptr<mcp::Session> session, const json::array& batch) {
    if (batch.empty()) co_return transport_error(400, jsonrpc::code::invalid_request, "Invalid Request: empty batch");
    if (batch.size() > config_.mcp.max_batch)
        co_return transport_error(400, jsonrpc::code::invalid_request,
                                  "Invalid Request: batch larger than " + std::to_string(config_.mcp.max_batch));
    // The POST took one token of the team's pacing; the other calls of the batch are charged here.
    pacing_.charge(session->tenant(), batch.size() - 1, TeamRateLimiter::Clock::now());
    std::string out = "[";
    bool any = false;
    for (const auto& element : batch) {
        auto message = jsonrpc::classify(element);
        std::string reply;
        if (message.kind == jsonrpc::Kind::invalid) {
            reply = jsonrpc::error(message.id, jsonrpc::code::invalid_request, "Invalid Request: " + message.problem);
        } else if (message.kind == jsonrpc::Kind::notification) {
            notification(*session, message);
        } else if (message.kind == jsonrpc::Kind::request) {
            if (message.method == "initialize")
                reply = jsonrpc::error(message.id, jsonrpc::code::invalid_request,
                                       "Invalid Request: initialize must not be part of a batch");
            else
                reply = (co_await request(session, message, false)).body;
        }
        if (reply.empty()) continue;
        if (any) out += ',';
        out += reply;
        any = true;
    }
    if (!any) {
        HttpReply accepted;
        accepted.status = 202;
        co_return accepted;
    }
    out += ']';
    co_return json_reply(std::move(out));
}

}  // namespace rollout_mcp
