// 2025 MCP sessions served by any instance on one PostgreSQL database (server/http/shared_session_store.hpp): two
// (or three) real servers in this process on their own loopback ports, each with its own storage connection and
// LISTEN connection, API-key auth and two teams. What one instance starts, ends or keeps alive holds on the other;
// what stays per instance (SSE streams, requests in flight) is refused or ignored in a well-defined way.
#include "sync_harness.hpp"

#include "server/app/log.hpp"
#include "server/fixtures/fixture_tools.hpp"
#include "server/http/api_key_auth.hpp"
#include "server/http/http_server.hpp"
#include "server/http/shared_session_store.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/session_settings.hpp"
#include "server/mcp/sse.hpp"
#include "storage/postgres_listener.hpp"
#include "support/http_client.hpp"
#include "support/wait_for.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <thread>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using test::HttpResponse;

crypto::MasterKey master_of(const crypto::SecretBytes& key) {
    return crypto::MasterKey{crypto::SecretBytes::copy_of(key.view()), "test master key", {}};
}

// One `serve` as main.cpp wires it for PostgreSQL, minus the sync worker: its own storage thread and connection,
// the shared session store, the PostgreSQL listener feeding it, and the HTTP server on an ephemeral port.
class Instance {
public:
    Instance(const test::TestDatabase& db, const crypto::SecretBytes& master, std::chrono::seconds idle) {
        config_.server.port = 0;
        config_.server.threads = 2;
        config_.server.shutdown_grace = 1s;
        config_.auth.mode = "api_key";
        config_.mcp.test_fixtures = true;
        config_.mcp.session_idle_timeout = idle;
        config_.log.level = "error";
        log::set_level(config_.log.level);
        storage_ = std::make_unique<StorageExecutor>(db.open(master_of(master)));
        register_fixture_tools(tools_, sessionless_);
        sessions_ = std::make_unique<SharedSessionStore>(session_store_settings(config_), *storage_);
        auth_ = make_api_key_authenticator(*storage_);
        endpoint_ = std::make_unique<McpEndpoint>(config_, tools_, *sessions_, *auth_, sessionless_);
        server_ = std::make_unique<HttpServer>(ioc_.get_executor(), config_, *endpoint_, *sessions_,
                                               [] { return json::object{{"ready", true}}; });
        port_ = server_->listen();
        server_->start();
        listener_ = storage::PgListener::start(db.url(), [s = sessions_.get()](std::string_view c, std::string_view p) {
            s->hear(c, p);
        });
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }
    ~Instance() {
        listener_.reset();
        boost::asio::co_spawn(ioc_, server_->shutdown(), boost::asio::detached);
        for (auto& t : threads_) t.join();   // run() returns once the shutdown has ended every coroutine
        storage_->stop();
    }
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    std::uint16_t port() const { return port_; }
    std::uint32_t epoch() const { return endpoint_->epoch(); }
    std::size_t local_sessions() const { return sessions_->size(); }

private:
    Config config_;
    boost::asio::io_context ioc_{2};
    std::unique_ptr<StorageExecutor> storage_;
    ToolRegistry tools_;
    mcp::ListenHub listen_;
    mcp::TaskRouter task_router_;
    mcp::RequestStateCodec request_state_{std::string(32, 'k'), std::chrono::minutes(10)};
    SessionlessServices sessionless_{&listen_, &task_router_, &request_state_};
    std::unique_ptr<SharedSessionStore> sessions_;
    std::shared_ptr<Authenticator> auth_;
    std::unique_ptr<McpEndpoint> endpoint_;
    std::unique_ptr<HttpServer> server_;
    std::uint16_t port_ = 0;
    std::unique_ptr<storage::PgListener> listener_;
    std::vector<std::thread> threads_;
};

class SharedSessions : public ::testing::Test {
protected:
    void SetUp() override {
        if (!test::testing_postgresql()) GTEST_SKIP() << "several instances share a PostgreSQL database";
        if (const auto why = database_.unavailable(); !why.empty()) GTEST_SKIP() << why;
        auto store = database_.open(master_of(master_));   // migrates; two teams, one key each
        for (auto* out : {&key_a_, &key_b_}) {
            auto team = store->create_tenant(out == &key_a_ ? "team-a" : "team-b");
            ASSERT_TRUE(team) << team.error().message;
            if (out == &key_a_) tenant_a_ = team->id;
            auto key = store->issue_api_key(team->id);
            ASSERT_TRUE(key) << key.error().message;
            *out = std::string(key->key.text());
        }
    }

    std::unique_ptr<Instance> start(std::chrono::seconds idle = 1800s) {
        return std::make_unique<Instance>(database_, master_, idle);
    }

    static HttpResponse send(const Instance& at, const std::string& method, const std::string& key,
                             const std::string& session, const std::string& body = {}, test::Headers extra = {},
                             bool refused = false) {
        test::Headers h{{"Host", "127.0.0.1:" + std::to_string(at.port())},
                        {"Accept", "application/json, text/event-stream"},
                        {"Content-Type", "application/json"},
                        {"Authorization", "Bearer " + key},
                        {"MCP-Protocol-Version", "2025-06-18"}};
        if (!session.empty()) h.emplace_back("Mcp-Session-Id", session);
        h.insert(h.end(), extra.begin(), extra.end());
        test::Client c(at.port());
        c.send(test::http_request(method, "/mcp", h, body));
        // A GET stream that opens never ends: its head only (a refused one is read whole).
        return method == "GET" && !refused ? c.read_head() : c.read_response();
    }
    static std::string initialize(const Instance& at, const std::string& key) {
        json::object params{{"protocolVersion", "2025-06-18"},
                            {"capabilities", json::object{}},
                            {"clientInfo", json::object{{"name", "gtest"}, {"version", "1"}}}};
        auto r = send(at, "POST", key, {}, test::rpc_request(1, "initialize", params));
        EXPECT_EQ(r.status, 200) << r.body;
        return r.header("mcp-session-id");
    }
    // The JSON-RPC reply to one request (a JSON body or an SSE stream's last message), or null with the status.
    static json::value rpc(const Instance& at, const std::string& key, const std::string& session,
                           const std::string& body, int* status = nullptr) {
        auto r = send(at, "POST", key, session, body);
        if (status) *status = r.status;
        if (r.status != 200) return nullptr;
        if (r.header("content-type").rfind("text/event-stream", 0) != 0) return r.json();
        json::value last;
        for (const auto& ev : test::parse_sse(r.body))
            if (auto v = ev.json(); v.is_object() && !v.as_object().contains("method")) last = v;
        return last;
    }
    static int status_of(const Instance& at, const std::string& key, const std::string& session) {
        return send(at, "POST", key, session, test::rpc_request(7, "ping")).status;
    }
    std::int64_t rows() {
        auto db = database_.raw();
        auto st = db->prepare("SELECT count(*) FROM mcp_sessions");
        return st.step() ? st.int64(0) : -1;
    }

    test::TempDir dir_;
    test::TestDatabase database_{dir_.path() / "db.sqlite"};
    crypto::SecretBytes master_ = crypto::SecretBytes::random(32);
    std::string key_a_, key_b_, tenant_a_;
};

TEST_F(SharedSessions, AnotherInstanceServesTheSessionAndADeleteEndsItEverywhere) {
    auto a = start();
    auto b = start();
    const auto id = initialize(*a, key_a_);
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(rows(), 1);
    auto listed = rpc(*b, key_a_, id, test::rpc_request(2, "tools/list"));
    ASSERT_TRUE(listed.is_object()) << "tools/list on the other instance";
    EXPECT_FALSE(listed.at("result").at("tools").as_array().empty());
    auto called = rpc(*b, key_a_, id,
                      test::rpc_request(3, "tools/call", json::object{{"name", "test_simple_text"},
                                                                      {"arguments", json::object{}}}));
    ASSERT_TRUE(called.is_object()) << "tools/call on the other instance";
    EXPECT_FALSE(called.at("result").at("content").as_array().empty());
    EXPECT_EQ(b->local_sessions(), 1u);
    // Another team's key with the right id, and ids that were never issued: the same 404 everywhere.
    for (const Instance* at : {a.get(), b.get()}) {
        EXPECT_EQ(status_of(*at, key_b_, id), 404);
        EXPECT_EQ(status_of(*at, key_a_, "0123456789abcdef0123456789abcdef"), 404);
        EXPECT_EQ(status_of(*at, key_a_, id.substr(0, 31) + (id.back() == '0' ? "1" : "0")), 404);
        EXPECT_EQ(status_of(*at, key_a_, std::string(4000, 'f')), 404);
    }
    EXPECT_EQ(status_of(*a, key_a_, id), 200) << "another team's probes end nothing";
    // A request running on A cannot be cancelled from B (a no-op: the notification is accepted and ignored).
    EXPECT_EQ(send(*b, "POST", key_a_, id, test::rpc_notification("notifications/cancelled", {{"requestId", 99}})).status,
              202);
    // DELETE on B: the row goes at once, and A drops its copy when the notification arrives.
    EXPECT_EQ(send(*b, "DELETE", key_a_, id).status, 200);
    EXPECT_EQ(rows(), 0);
    EXPECT_EQ(status_of(*b, key_a_, id), 404);
    EXPECT_TRUE(test::wait_for([&] { return status_of(*a, key_a_, id) == 404; }, 5s, 20ms)) << "A still serves it";
    EXPECT_EQ(a->local_sessions(), 0u);
    EXPECT_EQ(send(*a, "DELETE", key_a_, id).status, 404);
}

TEST_F(SharedSessions, IdleSessionsExpireEverywhereWhileOneInUseLivesOn) {
    auto a = start(1s);
    auto b = start(1s);
    const auto idle = initialize(*a, key_a_);
    const auto busy = initialize(*a, key_a_);
    ASSERT_FALSE(idle.empty());
    ASSERT_FALSE(busy.empty());
    // `busy` is used on B only, for three idle timeouts: A's sweep must not expire it, though A never sees it used.
    const auto until = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < until) {
        ASSERT_EQ(status_of(*b, key_a_, busy), 200);
        std::this_thread::sleep_for(150ms);
    }
    EXPECT_EQ(status_of(*b, key_a_, idle), 404) << "idle for 3 s with a 1 s timeout";
    EXPECT_EQ(status_of(*a, key_a_, idle), 404);
    EXPECT_TRUE(test::wait_for([&] { return rows() == 1; }, 3s, 50ms)) << "the idle row is swept";
    EXPECT_EQ(status_of(*a, key_a_, busy), 200) << "A adopts the session again from its row";
}

// A session whose only activity is its open GET stream (a client waiting for notifications) lives on: the
// instance holding the stream keeps its row fresh, so no instance's sweep deletes it and cuts the stream.
TEST_F(SharedSessions, ASessionKeptOpenOnlyByItsStreamIsNotExpiredElsewhere) {
    auto a = start(1s);
    auto b = start(1s);
    const auto id = initialize(*a, key_a_);
    ASSERT_FALSE(id.empty());
    test::Client stream(a->port());
    stream.send(test::http_request("GET", "/mcp",
                                   {{"Host", "127.0.0.1:" + std::to_string(a->port())},
                                    {"Accept", "text/event-stream"},
                                    {"Authorization", "Bearer " + key_a_},
                                    {"MCP-Protocol-Version", "2025-06-18"},
                                    {"Mcp-Session-Id", id}},
                                   ""));
    ASSERT_EQ(stream.read_head().status, 200);
    std::this_thread::sleep_for(3s);   // three idle timeouts without a request; both instances sweep meanwhile
    EXPECT_EQ(rows(), 1) << "the streaming session's row was swept";
    EXPECT_EQ(status_of(*b, key_a_, id), 200);
    EXPECT_EQ(status_of(*a, key_a_, id), 200);
}

TEST_F(SharedSessions, ASessionOutlivesTheInstanceThatCreatedIt) {
    auto a = start();
    auto b = start();
    const auto id = initialize(*a, key_a_);
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(rpc(*a, key_a_, id, test::rpc_request(2, "logging/setLevel", {{"level", "error"}})).is_object(), true);
    a.reset();   // A stops (its copies end, the row stays)
    EXPECT_EQ(rows(), 1);
    EXPECT_EQ(status_of(*b, key_a_, id), 200);
    auto again = start();   // A restarted
    EXPECT_EQ(status_of(*again, key_a_, id), 200);
    auto db = database_.raw();
    auto st = db->prepare("SELECT log_level, revision FROM mcp_sessions");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.text(0), "error") << "logging/setLevel is recorded for the other instances";
    EXPECT_EQ(st.text(1), "2025-06-18");
}

TEST_F(SharedSessions, StreamsStayWithTheirInstance) {
    auto a = start();
    auto b = start();
    const auto id = initialize(*a, key_a_);
    ASSERT_FALSE(id.empty());
    // Resuming one of A's streams on B: B never had it (another epoch), a clear 400, not a silent empty stream.
    const auto a_event = sse::format_event_id({a->epoch(), 1, 1});
    auto resumed = send(*b, "GET", key_a_, id, {}, {{"Last-Event-ID", a_event}}, true);
    EXPECT_EQ(resumed.status, 400);
    EXPECT_NE(resumed.body.find("another server run or instance"), std::string::npos) << resumed.body;
    // A fresh GET stream is B's own, for this session.
    auto listen = send(*b, "GET", key_a_, id);
    EXPECT_EQ(listen.status, 200);
    EXPECT_EQ(listen.header("mcp-session-id"), id);
}

// The store alone, fed notifications by hand: an ended session's hash stops an adoption even while its row is still
// readable, and after a gap in notifications (the listener reconnected) a local copy is not trusted until its row is
// read again.
TEST_F(SharedSessions, HeardEndsAndGapsAreCheckedBeforeServing) {
    StorageExecutor storage(database_.open(master_of(master_)));
    SharedSessionStore store(mcp::SessionStoreSettings{}, storage);
    boost::asio::io_context io;
    const auto run = [&io](auto awaitable) {
        auto done = boost::asio::co_spawn(io, std::move(awaitable), boost::asio::use_future);
        io.restart();
        io.run();
        return done.get();
    };
    const auto first = run(store.open(tenant_a_, mcp::Revision::v2025_06_18));
    const auto second = run(store.open(tenant_a_, mcp::Revision::v2025_11_25));
    ASSERT_TRUE(first.session && second.session);
    const std::string gone = first.session->id();
    const std::string ended = second.session->id();
    // Another instance deletes `gone` and this one misses the notification: its copy still serves, until a gap.
    ASSERT_TRUE(database_.open(master_of(master_))->delete_mcp_session(gone, tenant_a_));
    EXPECT_TRUE(run(store.lookup(gone, tenant_a_)).session);
    store.hear("", "");
    EXPECT_EQ(run(store.lookup(gone, tenant_a_)).miss, mcp::SessionLookup::Miss::unknown);
    // `ended` was heard ended (its row is still there, as if read just before the DELETE): never served again.
    store.hear(storage::kSessionEndedChannel, "00ff," + storage::mcp_session_id_hash(ended));
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(run(store.lookup(ended, tenant_a_)).miss, mcp::SessionLookup::Miss::unknown);
    EXPECT_EQ(store.size(), 0u);
    storage.stop();
}

}  // namespace
}  // namespace rollout_mcp::sync_test
