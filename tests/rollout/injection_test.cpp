// Header injection and request smuggling, proven on the wire: every field a team controls that reaches a
// request (the bearer token, the credential id, ids in the path) is sent with CR, LF, CRLF, NUL and other
// control bytes to a raw loopback listener that records every byte. Refused requests send nothing at all;
// ids in the path are percent-encoded and arrive as one request.
#include "raw_listener.hpp"
#include "rollout/client.hpp"
#include "test_support.hpp"

namespace rollout_mcp::rollout::test {
namespace {

const std::vector<std::string> kHostile = {
    "\r", "\n", "\r\n", std::string(1, '\0'), "\x01", "\x0b", "\x1b", "\x7f",
    "\r\nX-Injected: 1", "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
};

ClientConfig config_with(const RawListener& listener, std::shared_ptr<TokenSource> auth) {
    ClientConfig c = config_for(listener.url(), std::move(auth));
    c.partition = "team-hostile";
    return c;
}

void expect_nothing_injected(const std::string& wire) {
    EXPECT_EQ(wire.find("\nX-Injected"), std::string::npos) << wire;  // no such header line
    EXPECT_EQ(wire.find("/smuggled"), std::string::npos) << wire;
}

TEST(Injection, BearerTokenWithControlBytesIsRefusedBeforeSending) {
    const std::string jwt = mint_hs512({"client", "team", 0, 4'000'000'000}, "secret");
    for (const auto& bad : kHostile) {
        RawListener listener;
        auto auth = std::make_shared<TokenSource>(TokenSource::pre_minted(jwt + bad + "tail"));
        RolloutClient client(HttpPool::create(fast_options({listener.url()})), config_with(listener, auth));
        auto r = run_sync(client.list_credentials());
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().status, 0u);
        // Two layers refuse it before anything is written: the token source (a JWT is three base64url
        // segments, so a control byte never passes it) and, behind it, the outbound header check.
        const bool by_token = r.error().code == ErrorKind::auth &&
                              r.error().message.find("not a JWT (three base64url segments)") != std::string::npos;
        const bool by_header = r.error().code == ErrorKind::permanent &&
                               r.error().message == "header Authorization: contains a control character; nothing was sent";
        EXPECT_TRUE(by_token || by_header) << r.error().describe();
        EXPECT_EQ(r.error().describe().find(jwt), std::string::npos);  // the secret is not echoed
        EXPECT_TRUE(listener.received().empty());                      // not even a connection
    }
}

TEST(Injection, CredentialIdWithControlBytesIsRefusedBeforeSending) {
    for (const auto& bad : kHostile) {
        RawListener listener;
        RolloutClient client(HttpPool::create(fast_options({listener.url()})), config_with(listener, test_auth()));
        auto r = run_sync(client.probe("cred" + bad));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, ErrorKind::permanent);
        EXPECT_EQ(r.error().message,
                  "header X-Rollout-Credential-Id: contains a control character; nothing was sent");
        EXPECT_TRUE(listener.received().empty());
    }
}

TEST(Injection, IdsInThePathArePercentEncodedAndSentAsOneRequest) {
    for (const auto& bad : kHostile) {
        RawListener listener;
        RolloutClient client(HttpPool::create(fast_options({listener.url()})), config_with(listener, test_auth()));
        const std::string id = "p" + bad + "q";
        auto r = run_sync(client.update_person("cred-1", id, boost::json::object{{"firstName", "A"}}));
        ASSERT_TRUE(r) << r.error().describe();
        const auto conns = listener.received();
        ASSERT_EQ(conns.size(), 1u);
        const std::string& wire = conns[0];
        expect_nothing_injected(wire);
        const std::string line = "PUT /crm/api/people/" + url_encode(id) + "?mergeTags=true HTTP/1.1\r\n";
        EXPECT_EQ(wire.rfind(line, 0), 0u) << wire;
        EXPECT_EQ(url_encode(id).find_first_of(std::string("\r\n\0 \x7f", 5)), std::string::npos);
        // Exactly one request line on the connection.
        std::size_t requests = 0;
        for (std::size_t at = wire.find(" HTTP/1.1\r\n"); at != std::string::npos; at = wire.find(" HTTP/1.1\r\n", at + 1))
            ++requests;
        EXPECT_EQ(requests, 1u) << wire;
    }
}

TEST(Injection, QueryValuesArePercentEncoded) {
    RawListener listener;
    RolloutClient client(HttpPool::create(fast_options({listener.url()})), config_with(listener, test_auth()));
    auto r = run_sync(client.find_person_by_email("cred-1", "a@b.c\r\nX-Injected: 1"));
    ASSERT_FALSE(r);  // the listener's "{}" has no items array: what matters is the wire
    const std::string wire = listener.all_bytes();
    expect_nothing_injected(wire);
    EXPECT_NE(wire.find("GET /crm/api/people?email=a%40b.c%0D%0AX-Injected%3A%201&limit=100 HTTP/1.1\r\n"),
              std::string::npos)
        << wire;
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
