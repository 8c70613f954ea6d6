// The in-process server and the GoogleTest fixture of the loopback tests.
#include "test_server.hpp"
#include "server/mcp/session_settings.hpp"

#include "server/mcp/auth.hpp"
#include "server/fixtures/fixture_tools.hpp"
#include "server/http/http_server.hpp"
#include "server/http/tls_certificates.hpp"
#include "server/app/log.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/tool_registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>


namespace rollout_mcp::test {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

ToolDefinition slow_tool(std::shared_ptr<SlowToolFlags> flags) {
    ToolDefinition t;
    t.name = "test_slow";
    t.description = "Sleeps {ms} milliseconds (default 5000), honouring cancellation (test only).";
    t.input_schema = json::parse(R"({"type":"object","properties":{"ms":{"type":"integer","minimum":0}},
                                    "additionalProperties":false})").as_object();
    t.streams = true;
    t.handler = [flags](ToolContext&, const json::object& args) -> asio::awaitable<ToolResult> {
        ++flags->started;
        std::int64_t ms = 5000;
        if (const auto* v = args.if_contains("ms")) ms = v->to_number<std::int64_t>();
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
        try {
            co_await timer.async_wait(asio::use_awaitable);
        } catch (...) {
            ++flags->cancelled;
            throw;
        }
        ++flags->completed;
        co_return text_result("slow done");
    };
    return t;
}

// Emits {events} log notifications of {bytes} bytes each, then returns (a client that never reads).
ToolDefinition flood_tool() {
    ToolDefinition t;
    t.name = "test_flood";
    t.description = "Sends {events} notifications of {bytes} bytes on the request's stream (test only).";
    t.input_schema = json::parse(R"({"type":"object","properties":{"events":{"type":"integer","minimum":0},
                                    "bytes":{"type":"integer","minimum":0}},"additionalProperties":false})").as_object();
    t.streams = true;
    t.handler = [](ToolContext& ctx, const json::object& args) -> asio::awaitable<ToolResult> {
        const auto events = args.at("events").to_number<std::int64_t>();
        const std::string payload(static_cast<std::size_t>(args.at("bytes").to_number<std::int64_t>()), 'x');
        for (std::int64_t i = 0; i < events; ++i) {
            ctx.log(mcp::LogLevel::warning, json::string(payload));
            if (i % 64 == 63) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        }
        co_return text_result("flooded");
    };
    return t;
}

ToolDefinition throwing_tool() {
    ToolDefinition t;
    t.name = "test_throw";
    t.description = "Throws from its handler (test only).";
    t.input_schema = json::parse(R"({"type":"object"})").as_object();
    t.handler = [](ToolContext&, const json::object&) -> asio::awaitable<ToolResult> {
        throw std::runtime_error("boom");
        co_return text_result("unreachable");
    };
    return t;
}

}  // namespace

// ---------------------------------------------------------------- TestServer

TestServer::TestServer(const std::function<void(Config&)>& tweak) : slow_(std::make_shared<SlowToolFlags>()) {
    config_.server.port = 0;
    config_.server.threads = 2;
    config_.server.shutdown_grace = std::chrono::milliseconds(3000);
    config_.mcp.sse_keepalive = std::chrono::milliseconds(200);   // dead clients are noticed quickly
    config_.mcp.test_fixtures = true;
    config_.auth.mode = "none";
    config_.log.level = "error";
    if (tweak) tweak(config_);
    log::set_level(config_.log.level);
    tools_ = std::make_unique<ToolRegistry>();
    register_fixture_tools(*tools_, sessionless_);
    tools_->add(slow_tool(slow_));
    tools_->add(throwing_tool());
    tools_->add(flood_tool());
    sessions_ = mcp::make_in_memory_session_store(session_store_settings(config_));
    auth_ = make_single_tenant_auth("default");
    endpoint_ = std::make_unique<McpEndpoint>(config_, *tools_, *sessions_, *auth_, sessionless_);
    if (config_.server.tls()) tls_ = std::make_shared<TlsCertificates>(config_.server);
    server_ = std::make_unique<HttpServer>(ioc_.get_executor(), config_, *endpoint_, *sessions_,
                                           [] { return json::object{{"ready", true}}; }, tls_);
    port_ = server_->listen();
    server_->start();
    // Two I/O threads, as [server] threads = 2 asks; run() returns only when no work is left.
    std::packaged_task<int()> task([this] {
        std::thread second([this] { ioc_.run(); });
        ioc_.run();
        second.join();
        return 0;
    });
    exit_ = task.get_future();
    thread_ = std::thread(std::move(task));
}

TestServer::~TestServer() {
    stop();
    if (thread_.joinable()) thread_.join();
}

void TestServer::stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::asio::co_spawn(ioc_, server_->shutdown(), boost::asio::detached);
}

std::optional<int> TestServer::wait_exit(std::chrono::milliseconds timeout) {
    if (!exit_.valid() || exit_.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    thread_.join();
    return exit_.get();
}

// ---------------------------------------------------------------- HttpTest

void HttpTest::start(const std::function<void(Config&)>& tweak) { server_ = std::make_unique<TestServer>(tweak); }

void HttpTest::TearDown() {
    // After every behaviour the server must still serve.
    if (server_ && server_->running()) {
        EXPECT_EQ(healthz(), 200) << "GET /healthz after the test";
    }
    server_.reset();
}

Headers HttpTest::base_headers() const {
    return {{"Host", "127.0.0.1:" + std::to_string(port())},
            {"Accept", "application/json, text/event-stream"},
            {"Content-Type", "application/json"}};
}

HttpResponse HttpTest::post_on(Client& c, const std::string& body, const std::string& session, const Headers& extra,
                               const std::string& version) {
    Headers h = base_headers();
    if (!session.empty()) h.emplace_back("Mcp-Session-Id", session);
    if (!version.empty()) h.emplace_back("MCP-Protocol-Version", version);
    h.insert(h.end(), extra.begin(), extra.end());
    if (!c.send(http_request("POST", "/mcp", h, body))) {
        HttpResponse r;
        r.error = "send failed";
        return r;
    }
    return c.read_response();
}

HttpResponse HttpTest::post(const std::string& body, const std::string& session, const Headers& extra,
                            const std::string& version) {
    Client c(port());
    return post_on(c, body, session, extra, version);
}

HttpResponse HttpTest::send_raw(const std::string& wire, std::chrono::milliseconds timeout) {
    Client c(port());
    c.send(wire);
    return c.read_response(timeout);
}

int HttpTest::healthz() {
    return send_raw(http_request("GET", "/healthz", {{"Host", "127.0.0.1:" + std::to_string(port())}}), 2s).status;
}

std::string HttpTest::initialize(const std::string& version) {
    json::object params{{"protocolVersion", version},
                        {"capabilities", json::object{}},
                        {"clientInfo", json::object{{"name", "gtest"}, {"version", "1"}}}};
    auto r = post(rpc_request(0, "initialize", params));
    if (r.status != 200 || r.header("mcp-session-id").empty()) {
        ADD_FAILURE() << "initialize failed: " << r.status << " " << r.body << r.error;
        return {};
    }
    return r.header("mcp-session-id");
}

json::value HttpTest::call(const std::string& session, const std::string& body, const std::string& version) {
    auto r = post(body, session, {}, version);
    if (r.status != 200) {
        ADD_FAILURE() << "POST failed: " << r.status << " " << r.body << r.error;
        return nullptr;
    }
    if (r.header("content-type").rfind("text/event-stream", 0) == 0) {
        json::value last;
        for (const auto& ev : parse_sse(r.body))
            if (auto v = ev.json(); v.is_object() && !v.as_object().contains("method")) last = v;
        return last;
    }
    return r.json();
}

}  // namespace rollout_mcp::test
