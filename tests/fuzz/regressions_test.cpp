// Regressions for what the fuzz targets of tests/fuzz found: one test per finding, with the smallest input
// that shows it. tests/fuzz/README.md lists each finding with its id, its fuzz target and the fix.
// These fail until the finding is fixed; then they keep it fixed.
#include "support/endpoint_request.hpp"
#include "server/mcp/auth.hpp"
#include "server/app/config.hpp"
#include "server/http/http_server.hpp"
#include "server/mcp/mcp_endpoint.hpp"
#include "server/mcp/session.hpp"
#include "server/mcp/tool_registry.hpp"

#include "support/http_client.hpp"
#include "test_server.hpp"

#include "rollout/http_pool.hpp"
#include "rollout/jwt.hpp"
#include "rollout/model.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace rollout_mcp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// --- finding "utf8" (fuzz_http_request, fuzz_jsonrpc): request bytes echoed into a JSON reply --------------

class EndpointWithoutSockets {
public:
    EndpointWithoutSockets() : sessions_(mcp::make_in_memory_session_store({})), auth_(make_single_tenant_auth("default")) {
        endpoint_ = std::make_unique<McpEndpoint>(config_, tools_, *sessions_, *auth_);
    }
    HttpReply handle(const HttpRequest& request) { return test::handle_now(io_, *endpoint_, request); }
    static HttpRequest post(std::string_view body) { return test::mcp_post(body); }
    std::string initialize() {
        auto r = handle(post(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})"));
        return test::header_of(r, "Mcp-Session-Id");
    }

private:
    Config config_;
    ToolRegistry tools_;
    std::unique_ptr<mcp::SessionStore> sessions_;
    std::unique_ptr<Authenticator> auth_;
    std::unique_ptr<McpEndpoint> endpoint_;
    asio::io_context io_;
};

// Beast accepts obs-text (bytes 0x80-0xFF) in header values; "Unsupported protocol version: <value>" put
// them into the JSON body unescaped, which is then not UTF-8 and not JSON (RFC 8259 section 8.1).
TEST(FuzzRegression, Utf8UnsupportedProtocolVersionReplyIsValidJson) {
    EndpointWithoutSockets e;
    const std::string session = e.initialize();
    ASSERT_FALSE(session.empty());
    auto ping = EndpointWithoutSockets::post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})");
    ping.session_id = session;
    ping.protocol_version = "2\xcd"
                            "25-11-25";
    const auto reply = e.handle(ping);
    EXPECT_EQ(reply.status, 400u);
    boost::system::error_code ec;
    (void)boost::json::parse(reply.body, ec);
    EXPECT_FALSE(ec) << "reply body is not valid UTF-8 JSON: " << reply.body;
}

// --- finding "te-framing" (fuzz_http_request): Transfer-Encoding without a final chunked -------------------

// The real server on 127.0.0.1 (the loopback tests' TestServer), one raw request with the tests' one client,
// everything it answers until it closes (or 3 s pass).
std::string exchange(const std::string& request) {
    test::TestServer server([](Config& c) { c.server.request_timeout = std::chrono::milliseconds(10'000); });
    test::Client client(server.port());
    client.send(request);
    bool closed = false;
    std::string answer = client.read_until_closed(std::chrono::seconds(3), closed);
    if (!closed) answer += "\n<connection still open after 3 s>";
    return answer;
}

constexpr std::string_view kInitialize =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})";

// One response, a 400, then the server closes.
void expect_refused_and_closed(const std::string& answer) {
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_EQ(answer.find("HTTP/1.1 ", 1), std::string::npos) << "more than one response:\n" << answer;
    EXPECT_EQ(answer.find("<connection still open"), std::string::npos) << answer;
}

// RFC 9112 section 6.3: a request whose Transfer-Encoding does not end in chunked has no reliable length:
// 400 and close. Beast ignores such a Transfer-Encoding and frames by Content-Length (or as empty), so a
// proxy that frames the other way can smuggle a request past us. Today: 200 (initialize ran), kept alive.
TEST(FuzzRegression, TeFramingTransferEncodingWithContentLengthIsRefused) {
    expect_refused_and_closed(exchange(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json, text/event-stream\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: gzip\r\nContent-Length: " +
        std::to_string(kInitialize.size()) + "\r\n\r\n" + std::string(kInitialize)));
}

// Today: an empty body (400 parse error), then the chunk bytes parsed as a second request (another 400).
TEST(FuzzRegression, TeFramingChunkedNotFinalIsRefused) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx", kInitialize.size());
    expect_refused_and_closed(exchange(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json, text/event-stream\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" +
        std::string(size) + "\r\n" + std::string(kInitialize) + "\r\n0\r\n\r\n"));
}

// --- Content-Length framing (fuzz_http_request; the property was refined, the server was right) ----------

std::string post_with_lengths(const std::string& length_fields, std::string_view body) {
    return "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json, text/event-stream\r\n"
           "Content-Type: application/json\r\nConnection: close\r\n" +
           length_fields + "\r\n" + std::string(body);
}

// RFC 9112 6.3: conflicting lengths are unrecoverable framing errors: 400 and close, whatever the order,
// the spelling or the list form.
TEST(FuzzRegression, ConflictingContentLengthsAreRefused) {
    const std::string n = std::to_string(kInitialize.size());
    for (const std::string& fields : std::initializer_list<std::string>{
             "Content-Length: " + n + "\r\nContent-Length: " + std::to_string(kInitialize.size() - 1) + "\r\n",
          "Content-Length: " + n + "\r\nX-Other: 1\r\ncontent-length: 1\r\n",
          "Content-Length: " + n + ", 1\r\n", "Content-Length: +" + n + "\r\n", "Content-Length: 0x10\r\n",
          "Content-Length: " + n + " 1\r\n"}) {
        SCOPED_TRACE(fields);
        expect_refused_and_closed(exchange(post_with_lengths(fields, kInitialize)));
    }
}

// RFC 9110 8.6 lets a recipient accept a length repeated as the same decimal number (fields or a list);
// Beast compares the numbers, so "03" and "3" agree. The fuzzer first flagged this comparing text.
TEST(FuzzRegression, RepeatedContentLengthOfTheSameNumberFramesTheBody) {
    const std::string n = std::to_string(kInitialize.size());
    for (const std::string& fields : std::initializer_list<std::string>{"Content-Length: 0" + n + "\r\nContent-Length: " + n + "\r\n",
                                      "Content-Length: " + n + ", " + n + "\r\n"}) {
        SCOPED_TRACE(fields);
        const auto answer = exchange(post_with_lengths(fields, kInitialize));
        EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
        EXPECT_NE(answer.find("\"protocolVersion\":\"2025-11-25\""), std::string::npos) << answer;
        EXPECT_EQ(answer.find("HTTP/1.1 ", 1), std::string::npos) << "more than one response:\n" << answer;
    }
}

// --- finding "header-limit" (fuzz_http_request): max_header_bytes held for the fields only -------------------

// A request of `total` header bytes: a long request line (query, ignored by the server), then a
// padding field; each part well under the limit on its own. `body` defaults to an initialize.
std::string request_with_header_of(std::size_t total, bool close, std::string_view body = kInitialize) {
    const std::string line = "POST /mcp?" + std::string(2000, 'q') + " HTTP/1.1\r\n";
    std::string fields = "Host: localhost\r\nAccept: application/json, text/event-stream\r\n"
                         "Content-Type: application/json\r\n" + std::string(close ? "Connection: close\r\n" : "") +
                         "Content-Length: " + std::to_string(body.size()) + "\r\nX-Pad: ";
    const std::size_t fixed = line.size() + fields.size() + 4;   // "\r\n" after X-Pad, "\r\n" ending the header
    fields += std::string(total - fixed, 'p') + "\r\n";
    return line + fields + "\r\n" + std::string(body);
}

class FuzzRegressionHttp : public test::HttpTest {};

// Beast 1.81 limits the request line and the fields to header_limit each when a whole header is already
// in the read buffer (as on a kept-alive connection whose buffer grew), so up to twice max_header_bytes got
// through. The first request grows the buffer; the second, 1 byte over the limit, was answered 200.
TEST_F(FuzzRegressionHttp, HeaderLimitCountsTheRequestLineToo) {
    start();
    const std::size_t limit = Config{}.server.max_header_bytes;
    const std::string big_ping = R"({"jsonrpc":"2.0","id":1,"method":"ping","pad":")" + std::string(40'000, 'x') + "\"}";
    for (const std::size_t second_header : {limit + 1, limit}) {
        SCOPED_TRACE(second_header);
        test::Client c(port());
        c.send(request_with_header_of(limit, false, big_ping));
        auto first = c.read_response();
        EXPECT_EQ(first.status, 400) << first.error;   // a ping without a session: what matters is the next one
        c.send(request_with_header_of(second_header, true));
        auto second = c.read_response();
        EXPECT_EQ(second.status, second_header > limit ? 431 : 200) << second.error;
        EXPECT_TRUE(c.wait_closed(2s));
    }
}

// --- finding "url" (fuzz_rollout_responses): malformed authority accepted by parse_endpoint ----------------

// Boost.URL 1.81 parses "http://[::1]:61&2/x" as port 61 + path "&2/x", and "https://h:/x" with an empty port.
TEST(FuzzRegression, UrlPortFollowedByJunkIsRefused) {
    EXPECT_FALSE(rollout::parse_endpoint("http://[::1]:61&2/platform/api").has_value());
}

// An authority ending in ':' has an empty port: refused, never read as the default port or as no port.
TEST(FuzzRegression, UrlEmptyPortIsRefused) {
    for (const char* url : {"https://universal.rollout.com:/api", "https://universal.rolltps://universal.rollout.com/api",
                            "http://127.0.0.1:/x"}) {
        const auto r = rollout::parse_endpoint(url);
        ASSERT_FALSE(r.has_value()) << url << " -> port \"" << r->port << "\" target " << r->target;
        EXPECT_NE(r.error().message.find("no valid port"), std::string::npos) << r.error().message;
    }
    const auto fine = rollout::parse_endpoint("https://universal.rollout.com/api");   // the control
    ASSERT_TRUE(fine.has_value());
    EXPECT_EQ(fine->port, "443");
    EXPECT_EQ(fine->target, "/api");
}

// --- finding "jwt-exp" (fuzz_rollout_responses): double exp cast to int64_t (undefined behaviour) ----------

std::string token_with_payload(std::string_view payload) {
    return rollout::base64url_encode(R"({"alg":"HS512"})") + "." + rollout::base64url_encode(payload) + ".sig";
}

// An exp no int64 can hold, or before the epoch, is not a usable expiry: the token counts as having none.
TEST(FuzzRegression, JwtExpHugeDoubleIsNotUndefinedBehaviour) {
    for (const char* payload : {R"({"exp":1e300})", R"({"exp":-1e300})", R"({"exp":9.3e18})", R"({"exp":-1.5})"}) {
        const auto exp = rollout::jwt_expiry(token_with_payload(payload));
        EXPECT_FALSE(exp.has_value()) << payload << " -> " << *exp;
    }
    EXPECT_EQ(rollout::jwt_expiry(token_with_payload(R"({"exp":1.5e9})")), 1'500'000'000);   // the controls
    EXPECT_EQ(rollout::jwt_expiry(token_with_payload(R"({"exp":1700000000})")), 1'700'000'000);
}

// --- finding "iso-year" (fuzz_rollout_responses): instants outside years 0000-9999 -------------------------

// parse_iso8601 accepts year 0000 and 9999 with any offset; the UTC instant then lies in year -1 or 10000 and
// utc_iso() (what the CRMs receive) renders "-001-12-31T23:00:00Z" / "10000-01-01T00:59:00Z".
// The rule: the local text and the UTC instant must both lie in years 1000-9999, so whatever we send is a
// four-digit year that parses back to the same instant. The second fuzz run found 1000-01-01T00:00:00+01:00
// (UTC 0999-12-31); the third 1001-01-01T00:00:00+01:00 (UTC 1000-12-31, which must be accepted).
TEST(FuzzRegression, IsoYearRenderedTimestampsParseBack) {
    for (const char* text : {"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:00-01:00", "1000-01-01T00:00:00+01:00",
                             "1000-01-01T00:30:00+14:00", "0999-12-31T23:59:59Z", "10000-01-01T00:00:00Z"})
        EXPECT_FALSE(rollout::parse_iso8601(text).has_value()) << text << " lies outside years 1000-9999";
    for (const char* text : {"1001-01-01T00:00:00+01:00", "1000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                             "9999-12-31T23:59:00+01:00", "1000-01-01T00:00:00-01:00"}) {
        const auto t = rollout::parse_iso8601(text);
        ASSERT_TRUE(t.has_value()) << text;
        const auto utc = rollout::parse_iso8601(t->utc_iso());
        const auto local = rollout::parse_iso8601(t->local_iso());
        ASSERT_TRUE(utc.has_value()) << text << " -> " << t->utc_iso();
        ASSERT_TRUE(local.has_value()) << text << " -> " << t->local_iso();
        EXPECT_EQ(utc->utc_seconds, t->utc_seconds) << text;
        EXPECT_EQ(local->utc_seconds, t->utc_seconds) << text;
        EXPECT_EQ(local->offset_minutes, t->offset_minutes) << text;
    }
}

}  // namespace
}  // namespace rollout_mcp
