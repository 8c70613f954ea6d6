// Transport and error mapping over real loopback sockets: statuses -> typed errors, Retry-After, timeouts,
// the loopback-only http rule, pool reuse, the per-host concurrency cap, the reply cap, paging, TLS checks.
#include <algorithm>
#include <atomic>
#include <mutex>
#include "rollout/client.hpp"
#include "test_support.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#if __has_include("fake_tls.hpp")
#include "fake_tls.hpp"
#define ROLLOUT_HAVE_TEST_TLS 1
#endif

namespace rollout_mcp::rollout::test {
namespace {
namespace asio = boost::asio;
using boost::beast::http::verb;

Result<boost::json::value> get_once(const ScriptedRollout& stub, HttpOptions o = fast_options()) {
    o.allowed_origins.push_back(origin_of(stub.url()).value());
    RolloutClient client(HttpPool::create(o), config_for(stub.url()));
    return run_sync(client.request(Host::crm, verb::get, "/people?limit=1", nullptr, "cred-1"));
}

TEST(Http, ErrorStatusesBecomeTypedErrors) {
    struct Case {
        unsigned status;
        std::string body;
        ErrorKind kind;
        std::string upstream;  // Rollout's own words; our message is always "Rollout answered HTTP <status>"
        bool uncertain;
    };
    const std::vector<Case> cases = {
        {400, R"({"errorMessage":"firstName is required"})", ErrorKind::validation, "firstName is required", false},
        {422, R"({"errors":[{"path":"/title","message":"Required"}]})", ErrorKind::validation, "/title: Required", false},
        {401, R"({"errorMessage":"Unauthorized"})", ErrorKind::auth, "Unauthorized", false},
        {403, R"({"errorMessage":"invalid credentials"})", ErrorKind::auth, "invalid credentials", false},
        {404, R"({"errorMessage":"Person not found"})", ErrorKind::not_found, "Person not found", false},
        {409, R"({"errorMessage":"Data for this credential is not ready yet. Please try again."})", ErrorKind::not_ready,
         "Data for this credential is not ready yet. Please try again.", false},
        {500, R"({"errorMessage":"Internal Server Error"})", ErrorKind::transient, "Internal Server Error", true},
        {502, "<html>Bad Gateway</html>", ErrorKind::transient, "", true},  // an HTML page says nothing
        {418, R"({"error":"teapot"})", ErrorKind::permanent, "teapot", false},
    };
    for (const auto& c : cases) {
        ScriptedRollout stub([&](const RecordedRequest&) { return ScriptedReply{c.status, c.body}; });
        auto r = get_once(stub);
        ASSERT_FALSE(r) << c.status;
        EXPECT_EQ(r.error().code, c.kind) << c.status;
        EXPECT_EQ(r.error().status, c.status);
        EXPECT_EQ(r.error().message, "Rollout answered HTTP " + std::to_string(c.status));
        EXPECT_EQ(r.error().upstream, c.upstream);
        EXPECT_EQ(r.error().uncertain, c.uncertain) << c.status;
    }
}

TEST(Http, RateLimitedCarriesRetryAfter) {
    ScriptedRollout secs([](const RecordedRequest&) {
        return ScriptedReply{429, R"({"errorMessage":"Too many requests"})", {{"Retry-After", "7"}}};
    });
    auto r = get_once(secs);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorKind::rate_limited);
    EXPECT_TRUE(retryable(r.error()));
    EXPECT_FALSE(r.error().uncertain);
    EXPECT_EQ(r.error().retry_after, std::chrono::seconds{7});

    ScriptedRollout none([](const RecordedRequest&) { return ScriptedReply{429, R"({"errorMessage":"slow down"})"}; });
    auto n = get_once(none);
    EXPECT_EQ(n.error().code, ErrorKind::rate_limited);
    EXPECT_FALSE(n.error().retry_after);
}

TEST(Http, RetryAfterParsesSecondsAndHttpDates) {
    const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{784111777}};  // 06 Nov 1994 08:49:37
    EXPECT_EQ(parse_retry_after("120", now), std::chrono::seconds{120});
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), std::chrono::seconds{30});
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:40:00 GMT", now), std::chrono::seconds{0});
    EXPECT_FALSE(parse_retry_after("soon", now));
    EXPECT_FALSE(parse_retry_after("", now));
}

TEST(Http, SpentRateLimitHeadersSayWhenToComeBack) {
    const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{1'800'000'000}};
    HttpResponse r;
    r.status = 429;
    r.headers = {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "1800000042"}};   // epoch seconds
    EXPECT_EQ(error_from_response(r, now).retry_after, std::chrono::seconds{42});
    r.headers = {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "9"}};            // seconds from now
    EXPECT_EQ(error_from_response(r, now).retry_after, std::chrono::seconds{9});
    r.headers = {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-interval-milliseconds", "10000"}};   // GoHighLevel
    EXPECT_EQ(error_from_response(r, now).retry_after, std::chrono::seconds{10});
    r.headers = {{"retry-after", "3"}, {"x-ratelimit-reset", "1800000042"}};             // Retry-After wins
    EXPECT_EQ(error_from_response(r, now).retry_after, std::chrono::seconds{3});
    r.headers = {{"x-ratelimit-remaining", "5"}, {"x-ratelimit-reset", "1800000042"}};   // not spent: plain backoff
    EXPECT_FALSE(error_from_response(r, now).retry_after);
    r.headers = {{"x-ratelimit-reset", "soon"}};
    EXPECT_FALSE(error_from_response(r, now).retry_after);
    r.status = 503;   // only a 429 reads them
    r.headers = {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "9"}};
    EXPECT_FALSE(error_from_response(r, now).retry_after);
}

TEST(Http, RateLimitRemainingReachesTheObserver) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{200, "{}", {{"X-RateLimit-Remaining", "37"}}}; });
    auto o = fast_options({stub.url()});
    std::atomic<std::int64_t> seen{-1};
    std::string label_seen;
    std::mutex mu;
    o.rate_limit_observer = [&](const std::string&, const std::string& label, std::int64_t remaining) {
        std::lock_guard lock(mu);
        label_seen = label;
        seen = remaining;
    };
    auto config = config_for(stub.url());
    config.metrics_label = "highlevel";
    RolloutClient client(HttpPool::create(o), config);
    auto r = run_sync(client.request(Host::crm, verb::get, "/people", nullptr, "c"));
    ASSERT_TRUE(r);
    EXPECT_EQ(seen.load(), 37);
    std::lock_guard lock(mu);
    EXPECT_EQ(label_seen, "highlevel");
}

TEST(Http, TimeoutAfterWriteIsUncertain) {
    ScriptedRollout stub([](const RecordedRequest&) { ScriptedReply r; r.hang = true; return r; });
    auto o = fast_options();
    o.timeout = std::chrono::milliseconds{300};
    const auto t0 = std::chrono::steady_clock::now();
    auto r = get_once(stub, o);
    ASSERT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds{3});
    EXPECT_EQ(r.error().code, ErrorKind::transient);
    EXPECT_TRUE(r.error().uncertain);
    EXPECT_NE(r.error().message.find("timed out"), std::string::npos);
}

TEST(Http, ConnectFailureIsTransientAndCertain) {
    std::string url;
    { ScriptedRollout gone([](const RecordedRequest&) { return ScriptedReply{}; }); url = gone.url(); }
    RolloutClient client(HttpPool::create(fast_options({url})), config_for(url));
    auto r = run_sync(client.request(Host::crm, verb::post, "/notes", boost::json::object{}, "c"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorKind::transient);
    EXPECT_FALSE(r.error().uncertain);
}

TEST(Http, PlainHttpOnlyForLoopback) {
    EXPECT_TRUE(parse_endpoint("http://127.0.0.1:9/x"));
    EXPECT_TRUE(parse_endpoint("http://127.9.8.7/x"));
    EXPECT_TRUE(parse_endpoint("http://[::1]:80/x"));
    EXPECT_TRUE(parse_endpoint("http://LocalHost:8080/x"));
    EXPECT_TRUE(parse_endpoint("https://crm.universal.rollout.com/api"));
    for (const char* bad : {"http://crm.universal.rollout.com/api", "http://10.0.0.1/", "http://localhost.evil.com/",
                            "http://[::2]/", "ftp://127.0.0.1/"}) {
        auto r = parse_endpoint(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorKind::permanent);
    }
    auto refused = parse_endpoint("http://crm.example.com/api");
    EXPECT_NE(refused.error().message.find("plain http:// is refused"), std::string::npos);

    ClientConfig c = config_for("http://rollout.example.com");
    RolloutClient client(HttpPool::create(fast_options()), c);
    auto r = run_sync(client.list_connectors());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("non-loopback host 'rollout.example.com'"), std::string::npos);
}

TEST(Http, KeepAliveConnectionIsReused) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{200, R"({"ok":true})"}; });
    auto pool = HttpPool::create(fast_options({stub.url()}));
    RolloutClient client(pool, config_for(stub.url()));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(run_sync(client.probe("cred-1")));
    auto reqs = stub.requests();
    ASSERT_EQ(reqs.size(), 3u);
    EXPECT_EQ(reqs[0].connection, reqs[1].connection);
    EXPECT_EQ(reqs[1].connection, reqs[2].connection);
    EXPECT_EQ(stub.connections(), 1);
    EXPECT_EQ(pool->stats().connections_opened, 1u);
    EXPECT_EQ(pool->stats().requests_on_reused, 2u);
    EXPECT_EQ(pool->stats().idle, 1u);
}

// Each I/O thread (io_context) keeps its own idle connections: a request on one never waits for, takes or evicts the
// other's, even with room for one idle connection per set (server/app/io_threads.hpp).
TEST(Http, EachIoContextReusesItsOwnIdleConnection) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{200, R"({"ok":true})"}; });
    auto o = fast_options({stub.url()});
    o.max_idle_per_host = 1;
    auto pool = HttpPool::create(o);
    RolloutClient client(pool, config_for(stub.url()));
    asio::io_context other(1);
    const auto on_other = [&] {
        auto done = asio::co_spawn(other, client.probe("cred-1"), asio::use_future);
        other.restart();
        other.run();
        return done.get();
    };
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(run_sync(client.probe("cred-1"))) << round;
        ASSERT_TRUE(on_other()) << round;
    }
    EXPECT_EQ(stub.connections(), 2) << "one per io_context, each reused";
    EXPECT_EQ(pool->stats().connections_opened, 2u);
    EXPECT_EQ(pool->stats().requests_on_reused, 4u);
    EXPECT_EQ(pool->stats().idle, 2u);
    pool->close_idle();   // before `other` goes: one of them was opened on it
}

TEST(Http, StaleIdleConnectionIsReplaced) {
    // The server closes after each reply although it advertised keep-alive... simulated by a fresh stub:
    std::shared_ptr<HttpPool> pool;
    std::string url;
    {
        ScriptedRollout first([](const RecordedRequest&) { return ScriptedReply{}; });
        url = first.url();
        pool = HttpPool::create(fast_options({url}));
        RolloutClient client(pool, config_for(url));
        ASSERT_TRUE(run_sync(client.probe("c")));
    }  // server gone: the pooled connection is dead
    // Nothing listens any more, so the retry on a fresh connection fails to connect (not a read error).
    RolloutClient client(pool, config_for(url));
    auto r = run_sync(client.probe("c"));
    ASSERT_FALSE(r);
    EXPECT_FALSE(r.error().uncertain);
    EXPECT_NE(r.error().message.find("cannot connect"), std::string::npos) << r.error().message;
}

TEST(Http, ConcurrencyCapPerHost) {
    ScriptedRollout stub([](const RecordedRequest&) {
        ScriptedReply r;
        r.delay = std::chrono::milliseconds{150};
        return r;
    });
    auto o = fast_options({stub.url()});
    o.max_concurrent_per_host = 2;
    o.per_team_host_share = 1.0;  // one partition here: this test is about the host-wide cap
    auto pool = HttpPool::create(o);
    RolloutClient client(pool, config_for(stub.url()));
    auto& ioc = test_ioc();
    int ok = 0;
    for (int i = 0; i < 6; ++i)
        asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
            if (co_await client.probe("c")) ++ok;
        }, asio::detached);
    const auto t0 = std::chrono::steady_clock::now();
    run_all(std::chrono::seconds{10});
    EXPECT_EQ(ok, 6);
    EXPECT_EQ(stub.peak_in_flight(), 2);
    EXPECT_EQ(pool->stats().in_flight_peak, 2u);
    EXPECT_LE(stub.connections(), 2);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{440});  // 3 waves of 150 ms
}

TEST(Http, QueueWaitCountsAgainstTheTimeout) {
    ScriptedRollout stub([](const RecordedRequest&) { ScriptedReply r; r.delay = std::chrono::milliseconds{600}; return r; });
    auto o = fast_options({stub.url()});
    o.max_concurrent_per_host = 1;
    o.timeout = std::chrono::milliseconds{300};
    RolloutClient client(HttpPool::create(o), config_for(stub.url()));
    auto& ioc = test_ioc();
    std::vector<Result<void>> results;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 2; ++i)
        asio::co_spawn(ioc, [&]() -> asio::awaitable<void> { results.push_back(co_await client.probe("c")); },
                       asio::detached);
    run_all(std::chrono::seconds{10});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(results.size(), 2u);
    // Both calls end by their own deadline: had the wait for the one request slot not counted, the second
    // would have run a full timeout after the first released the slot (about 600 ms in all).
    EXPECT_LT(elapsed, std::chrono::milliseconds{550});
    for (const auto& r : results) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, ErrorKind::transient) << r.error().message;
    }
    // The first call was sent and then timed out (uncertain). The second either timed out in the queue
    // (never sent) or got the slot only at its deadline; both calls ending at almost the same instant
    // makes the order a race, so the test accepts either but never more than two requests on the wire.
    const bool queued = std::any_of(results.begin(), results.end(), [](const Result<void>& r) {
        return r.error().message.find("free request slot") != std::string::npos;
    });
    EXPECT_TRUE(std::any_of(results.begin(), results.end(), [](const Result<void>& r) { return r.error().uncertain; }));
    EXPECT_LE(stub.requests().size(), queued ? 1u : 2u);
}

TEST(Http, OversizedReplyIsRefused) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{200, "[" + std::string(5000, ' ') + "]"}; });
    auto o = fast_options();
    o.max_response_bytes = 1024;
    auto r = get_once(stub, o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorKind::permanent);
    EXPECT_NE(r.error().message.find("exceeds 1024 bytes"), std::string::npos);
}

// Replies of every size, read into a buffer sized from each Content-Length and trimmed between requests
// (base/read_buffer.hpp), arrive whole and in order on one reused connection: tiny, a few hundred bytes, a list page,
// past the largest room reserved at once (1 MiB), and tiny again after the buffer was trimmed.
TEST(Http, RepliesOfEverySizeArriveWholeOnOneReusedConnection) {
    const std::vector<std::size_t> sizes{2, 600, 40'000, 3 * 1024 * 1024 + 17, 9, 70'000};
    std::atomic<std::size_t> next{0};
    const auto body_of = [](std::size_t size, std::size_t seed) {
        std::string text = "\"";
        for (std::size_t i = 0; text.size() + 1 < size; ++i) text += static_cast<char>('a' + (i * 7 + seed) % 26);
        return text + "\"";
    };
    ScriptedRollout stub([&](const RecordedRequest&) {
        const auto i = next++;
        return ScriptedReply{200, body_of(sizes[i % sizes.size()], i)};
    });
    auto o = fast_options({stub.url()});
    o.max_response_bytes = 4 * 1024 * 1024;
    auto pool = HttpPool::create(o);
    RolloutClient client(pool, config_for(stub.url()));
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        auto r = run_sync(client.request(Host::crm, verb::get, "/people?limit=1", nullptr, "cred-1"));
        ASSERT_TRUE(r) << i << ": " << r.error().message;
        ASSERT_TRUE(r->is_string()) << i;
        const auto expected = body_of(sizes[i], i);
        EXPECT_EQ(r->get_string().size(), expected.size() - 2) << i;
        EXPECT_TRUE(r->get_string() == std::string_view(expected).substr(1, expected.size() - 2)) << i;
    }
    EXPECT_EQ(stub.connections(), 1);
    EXPECT_EQ(pool->stats().requests_on_reused, sizes.size() - 1);
}

TEST(Http, ListFollowsMetadataNext) {
    ScriptedRollout stub([](const RecordedRequest& q) {
        if (q.target.find("next=c2") != std::string::npos)
            return ScriptedReply{200, R"({"_metadata":{"collection":"people","next":null},"people":[{"id":3}]})"};
        return ScriptedReply{200, R"({"_metadata":{"collection":"people","next":"c2"},"people":[{"id":"1"},{"id":"2"}]})"};
    });
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config_for(stub.url()));
    auto r = run_sync(client.list_all("cred-9", "/people?limit=2"));
    ASSERT_TRUE(r) << r.error().describe();
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ(id_of((*r)[2].at("id")), "3");
    auto reqs = stub.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[1].target, "/crm/api/people?limit=2&next=c2");
    EXPECT_EQ(reqs[1].headers.at("x-rollout-credential-id"), "cred-9");
}

// A look-up that decides whether to create must not act on a cut-off list: past max_search_pages it is an
// error (nothing gets created), while a plain listing just stops at max_pages.
TEST(Http, SearchesThatRunPastThePageCapFailInsteadOfMissingTheRecord) {
    ScriptedRollout endless([](const RecordedRequest&) {
        return ScriptedReply{200, R"({"_metadata":{"collection":"people","next":"more"},"people":[{"id":"x","tags":["other"]}]})"};
    });
    auto config = config_for(endless.url());
    config.max_pages = 3;
    config.max_search_pages = 5;
    RolloutClient client(HttpPool::create(fast_options({endless.url()})), config);
    auto listed = run_sync(client.list_all("c", "/people?limit=1"));
    ASSERT_TRUE(listed) << listed.error().describe();
    EXPECT_EQ(listed->size(), 3u);
    auto found = run_sync(client.find_person_by_tag("c", "reanna:buyer:B-1"));
    ASSERT_FALSE(found);
    EXPECT_NE(found.error().message.find("cannot be ruled out"), std::string::npos) << found.error().message;
    EXPECT_EQ(endless.requests().size(), 3u + 5u);
}

TEST(Http, ConnectorsAreParsed) {
    ScriptedRollout stub([](const RecordedRequest&) {
        return ScriptedReply{200, R"({"lofty":{"name":"Lofty","entities":{"crm":{"people":{"list":true,"create":true},
            "appointments":{"create":false}}},"authByPlan":{"default":{"type":"apiToken"}}},
            "gmail":{"name":"Gmail","entities":{"email":{}},"authByPlan":{"x":{"type":"oauth2"}}}})"};
    });
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config_for(stub.url()));
    auto r = run_sync(client.list_connectors());
    ASSERT_TRUE(r) << r.error().describe();
    ASSERT_EQ(r->size(), 2u);
    const auto& gmail = (*r)[0];
    const auto& lofty = (*r)[1];
    EXPECT_EQ(gmail.key, "gmail");
    EXPECT_FALSE(gmail.crm);
    EXPECT_EQ(lofty.name, "Lofty");
    EXPECT_EQ(lofty.auth_type, "apiToken");
    EXPECT_TRUE(lofty.crm);
    EXPECT_TRUE(lofty.supports("people", "create"));
    EXPECT_FALSE(lofty.supports("appointments", "create"));
    EXPECT_EQ(stub.requests().at(0).target, "/platform/api/connectors");
}

#ifdef ROLLOUT_HAVE_TEST_TLS
ScriptedOptions tls_stub(const std::string& bind = "127.0.0.1") {
    const auto& m = fake::shared_test_tls();
    return ScriptedOptions{bind, true, m.cert_pem, m.key_pem};
}

TEST(Tls, VerifiedConnectionWithTestCa) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{200, "[]"}; }, tls_stub());
    auto o = fast_options({stub.url(), "https://localhost:" + std::to_string(stub.port())});
    o.extra_ca_pem = fake::shared_test_tls().ca_pem;
    auto pool = HttpPool::create(o);
    for (std::string base : {stub.url(), "https://localhost:" + std::to_string(stub.port())}) {
        RolloutClient client(pool, config_for(base));
        auto r = run_sync(client.list_credentials());
        EXPECT_TRUE(r) << base << ": " << r.error().describe();
    }
}

TEST(Tls, UntrustedCertificateFails) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{200, "[]"}; }, tls_stub());
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config_for(stub.url()));  // no extra CA
    auto r = run_sync(client.list_credentials());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorKind::permanent);
    EXPECT_NE(r.error().message.find("TLS certificate verification failed"), std::string::npos) << r.error().message;
    EXPECT_TRUE(stub.requests().empty());
}

TEST(Tls, WrongHostCertificateFails) {
    // The certificate names localhost, 127.0.0.1 and ::1; 127.0.0.2 is loopback but not in it.
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{200, "[]"}; }, tls_stub("127.0.0.2"));
    auto o = fast_options({stub.url()});
    o.extra_ca_pem = fake::shared_test_tls().ca_pem;
    RolloutClient client(HttpPool::create(o), config_for(stub.url()));
    auto r = run_sync(client.list_credentials());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("TLS certificate verification failed"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("mismatch"), std::string::npos) << r.error().message;
    EXPECT_TRUE(stub.requests().empty());
}
#endif

}  // namespace
}  // namespace rollout_mcp::rollout::test
