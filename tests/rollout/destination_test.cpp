// Where the pool may connect, over loopback only: non-public destinations are refused before any connect
// unless the origin is listed (an injected resolver stands in for DNS, so no query leaves the machine and
// nothing is sent to a private address), trusted requests skip the check, and pooled connections are never
// shared between partitions nor reused after stray bytes.
#include "rollout/client.hpp"
#include "test_support.hpp"

#if __has_include("fake_tls.hpp")
#include "fake_tls.hpp"
#define ROLLOUT_HAVE_TEST_TLS 1
#endif

#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace rollout_mcp::rollout::test {
namespace {
namespace asio = boost::asio;
namespace ip = asio::ip;
using boost::beast::http::verb;
using tcp = ip::tcp;

// A resolver that answers from a table and records every question.
struct TableResolver {
    std::map<std::string, std::string> table;  // host -> IP literal
    std::shared_ptr<std::vector<std::string>> calls = std::make_shared<std::vector<std::string>>();
    Resolver get() {
        return [t = table, calls = calls](std::string host, std::string port)
                   -> asio::awaitable<Result<std::vector<tcp::endpoint>>> {
            calls->push_back(host + ":" + port);
            auto it = t.find(host);
            if (it == t.end()) {
                Error unknown{ErrorKind::transient, 0, "no such host " + host};  // named: GCC 12
                co_return unknown;
            }
            std::vector<tcp::endpoint> out{tcp::endpoint(ip::make_address(it->second), 1)};
            co_return out;
        };
    }
};

HttpRequest get(std::string url, std::string partition = "team-a") {
    HttpRequest r;
    r.url = std::move(url);
    r.partition = std::move(partition);
    return r;
}

TEST(Destination, ResolvedPrivateAddressIsRefusedWithoutConnecting) {
    TableResolver dns;
    dns.table["rollout.test"] = "10.1.2.3";
    auto o = fast_options();
    o.resolver = dns.get();
    auto pool = HttpPool::create(o);
    auto r = run_sync(pool->send(get("https://rollout.test/api/people")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorKind::permanent);
    EXPECT_EQ(r.error().status, 0u);
    EXPECT_EQ(r.error().message,
              "https://rollout.test:443 resolves to a non-public address (10.1.2.3): a team may reach it only when "
              "the operator lists that origin in [rollout] allowed_base_urls");
    EXPECT_EQ(*dns.calls, std::vector<std::string>{"rollout.test:443"});  // resolved once
    EXPECT_EQ(pool->stats().connections_opened, 0u);
    EXPECT_EQ(pool->stats().destinations_refused, 1u);
}

TEST(Destination, OneNonPublicAnswerAmongPublicOnesIsEnough) {
    auto calls = std::make_shared<int>(0);
    auto o = fast_options();
    o.resolver = [calls](std::string, std::string) -> asio::awaitable<Result<std::vector<tcp::endpoint>>> {
        ++*calls;
        std::vector<tcp::endpoint> out{tcp::endpoint(ip::make_address("8.8.8.8"), 443),
                                       tcp::endpoint(ip::make_address("::ffff:169.254.169.254"), 443)};
        co_return out;
    };
    auto pool = HttpPool::create(o);
    auto r = run_sync(pool->send(get("https://mixed.test/")));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("(::ffff:169.254.169.254)"), std::string::npos) << r.error().message;
    EXPECT_EQ(*calls, 1);
    EXPECT_EQ(pool->stats().connections_opened, 0u);
}

TEST(Destination, LocalhostThroughTheResolverOnlyWhenListed) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{200, R"({"ok":true})"}; });
    TableResolver dns;
    dns.table["localhost"] = "127.0.0.1";
    const std::string url = "http://localhost:" + std::to_string(stub.port()) + "/x";
    {
        auto o = fast_options();
        o.resolver = dns.get();
        auto r = run_sync(HttpPool::create(o)->send(get(url)));
        ASSERT_FALSE(r);
        EXPECT_NE(r.error().message.find("resolves to a non-public address (127.0.0.1)"), std::string::npos)
            << r.error().message;
        EXPECT_EQ(stub.connections(), 0);
    }
    auto o = fast_options({url});
    o.resolver = dns.get();
    auto r = run_sync(HttpPool::create(o)->send(get(url)));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(stub.requests().at(0).headers.at("host"), "localhost:" + std::to_string(stub.port()));
    EXPECT_EQ(dns.calls->size(), 2u);
}

TEST(Destination, IpLiteralIsCheckedWithoutResolving) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{}; });
    TableResolver dns;
    auto o = fast_options();
    o.resolver = dns.get();
    auto r = run_sync(HttpPool::create(o)->send(get(stub.url() + "/x")));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("non-public address (127.0.0.1)"), std::string::npos);
    EXPECT_EQ(stub.connections(), 0);
    o.allowed_origins = {"HTTP://127.0.0.1:" + std::to_string(stub.port()) + "/any/path"};  // normalized by the pool
    EXPECT_TRUE(run_sync(HttpPool::create(o)->send(get(stub.url() + "/x"))));
    EXPECT_TRUE(dns.calls->empty());  // IP literals never reach the resolver
}

TEST(Destination, TrustedDestinationSkipsTheAddressCheckButNotHeaderValidation) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{}; });
    auto pool = HttpPool::create(fast_options());  // nothing listed
    auto trusted = get(stub.url() + "/alerts", "");
    trusted.trusted_destination = true;
    EXPECT_TRUE(run_sync(pool->send(trusted)));
    trusted.headers = {{"X-Signature", "a\r\nX-Injected: 1"}};
    auto bad = run_sync(pool->send(trusted));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "header X-Signature: contains a control character; nothing was sent");
    EXPECT_EQ(stub.requests().size(), 1u);
    // An untrusted request of the same partition does not inherit the trusted connection, nor the trust.
    auto untrusted = run_sync(pool->send(get(stub.url() + "/alerts", "")));
    ASSERT_FALSE(untrusted);
    EXPECT_EQ(stub.requests().size(), 1u);
}

TEST(Destination, LeftoverBytesAfterAReplyCloseTheConnection) {
    ScriptedRollout stub([](const RecordedRequest& q) {
        ScriptedReply r{200, R"({"ok":true})"};
        if (q.target == "/desync") r.trailing = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        return r;
    });
    auto pool = HttpPool::create(fast_options({stub.url()}));
    ASSERT_TRUE(run_sync(pool->send(get(stub.url() + "/desync"))));
    // Whether the extra bytes came with the reply (leftovers in the read buffer) or a moment after it (seen by
    // the idle connection's probe before the next write), the connection is not used again. The pause lets
    // them arrive on a loaded machine; bytes arriving only after the next request was written cannot be
    // told from its answer by any HTTP/1.1 client.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto next = run_sync(pool->send(get(stub.url() + "/next")));
    ASSERT_TRUE(next) << next.error().describe();
    EXPECT_FALSE(next->reused_connection);
    EXPECT_EQ(pool->stats().connections_opened, 2u);
    EXPECT_EQ(stub.connections(), 2);
    // A clean reply leaves the connection reusable, as before.
    auto again = run_sync(pool->send(get(stub.url() + "/again")));
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->reused_connection);
}

// Idle sets are per team: teams that went quiet must not keep sockets open until their own next call.
TEST(Destination, IdleConnectionsOfQuietTeamsAreCappedAndSweptOnExpiry) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{}; });
    auto options = fast_options({stub.url()});
    options.idle_expiry = std::chrono::seconds(1);
    options.max_idle_total = 10;
    auto pool = HttpPool::create(options);
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(run_sync(pool->send(get(stub.url() + "/", "team-" + std::to_string(i)))));
    EXPECT_EQ(pool->stats().idle, 10u) << "thirty teams, one idle connection each, at most ten kept";
    // The oldest made room: the team that called last still has its connection, the first one does not.
    auto last = run_sync(pool->send(get(stub.url() + "/", "team-29")));
    ASSERT_TRUE(last);
    EXPECT_TRUE(last->reused_connection);
    auto first = run_sync(pool->send(get(stub.url() + "/", "team-0")));
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->reused_connection);
    EXPECT_EQ(pool->stats().idle, 10u);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    ASSERT_TRUE(run_sync(pool->send(get(stub.url() + "/", "team-late"))));
    EXPECT_EQ(pool->stats().idle, 1u) << "returning one closes every expired idle connection of every team";
}

TEST(Destination, PartitionsNeverShareAConnection) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{}; });
    auto pool = HttpPool::create(fast_options({stub.url()}));
    for (int i = 0; i < 3; ++i)
        for (const char* team : {"team-a", "team-b", ""}) ASSERT_TRUE(run_sync(pool->send(get(stub.url() + "/" + team, team))));
    std::map<std::string, std::set<int>> by_team;
    std::map<int, std::set<std::string>> by_connection;
    for (const auto& q : stub.requests()) {
        by_team[q.target].insert(q.connection);
        by_connection[q.connection].insert(q.target);
    }
    EXPECT_EQ(stub.connections(), 3);
    EXPECT_EQ(pool->stats().connections_opened, 3u);
    EXPECT_EQ(pool->stats().requests_on_reused, 6u);  // each team reuses its own connection
    for (const auto& [conn, teams] : by_connection) EXPECT_EQ(teams.size(), 1u) << "connection " << conn;
    for (const auto& [team, conns] : by_team) EXPECT_EQ(conns.size(), 1u) << team;
}

#ifdef ROLLOUT_HAVE_TEST_TLS
// The resolver's answer decides where to connect, but TLS still verifies the URL's host name: the test
// certificate names localhost, so "rollout.test" mapped onto it is connected to (listed) and then refused.
TEST(Destination, ResolvedNameIsStillTheTlsName) {
    const auto& m = fake::shared_test_tls();
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{}; }, ScriptedOptions{"127.0.0.1", true, m.cert_pem, m.key_pem});
    TableResolver dns;
    dns.table["rollout.test"] = "127.0.0.1";
    dns.table["localhost"] = "127.0.0.1";
    const std::string port = std::to_string(stub.port());
    auto o = fast_options({"https://rollout.test:" + port, "https://localhost:" + port});
    o.resolver = dns.get();
    o.extra_ca_pem = m.ca_pem;
    auto pool = HttpPool::create(o);
    auto wrong = run_sync(pool->send(get("https://rollout.test:" + port + "/")));
    ASSERT_FALSE(wrong);
    EXPECT_NE(wrong.error().message.find("TLS certificate verification failed"), std::string::npos)
        << wrong.error().message;
    EXPECT_EQ(stub.connections(), 1);  // connected to exactly the resolved address
    auto right = run_sync(pool->send(get("https://localhost:" + port + "/")));
    EXPECT_TRUE(right) << right.error().describe();
}
#endif

}  // namespace
}  // namespace rollout_mcp::rollout::test
