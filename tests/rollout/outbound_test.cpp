// The outbound boundary without a network: request building and header/target validation (with the same
// one-request property the fuzz target checks, over a list of hostile inputs), origin normalization, the
// public-address classifier, and the cleaning of upstream error text.
#include "outbound_property.hpp"
#include "rollout/http_pool.hpp"

#include <gtest/gtest.h>

namespace rollout_mcp::rollout::test {
namespace {
using boost::beast::http::verb;
namespace ip = boost::asio::ip;

HttpRequest with_header(std::string name, std::string value, std::string url = "https://crm.example.com/api/people") {
    HttpRequest r;
    r.method = verb::post;
    r.url = std::move(url);
    r.headers = {{"Authorization", "Bearer abc.def.ghi"}, {std::move(name), std::move(value)}};
    r.body = R"({"a":1})";
    return r;
}

TEST(Outbound, ControlBytesInHeaderValuesAreRefusedNamingTheHeader) {
    for (std::string bad : std::vector<std::string>{"\r", "\n", "\r\n", std::string(1, '\0'), "\x01", "\x1b", "\x7f", "\x1f", "\v", "\f"}) {
        const std::string value = "cred" + bad + "X-Injected: 1";
        const auto ep = parse_endpoint("https://crm.example.com/api/people").value();
        auto r = build_request(with_header("X-Rollout-Credential-Id", value), ep);
        ASSERT_FALSE(r) << static_cast<int>(bad[0]);
        EXPECT_EQ(r.error().code, ErrorKind::permanent);
        EXPECT_EQ(r.error().status, 0u);
        EXPECT_EQ(r.error().message,
                  "header X-Rollout-Credential-Id: contains a control character; nothing was sent");
        EXPECT_EQ(r.error().message.find("X-Injected"), std::string::npos);
    }
}

TEST(Outbound, HeaderNamesMustBeTokensAndTransportHeadersAreOurs) {
    const auto ep = parse_endpoint("https://crm.example.com/").value();
    for (std::string bad : std::vector<std::string>{"", "X Y", "X:Y", "X\r\nY", "X(", "Ä", "X\"", std::string("X\0Y", 3)}) {
        auto r = build_request(with_header(bad, "v"), ep);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().message, "a header name is not an HTTP token; nothing was sent");
    }
    for (std::string owned : std::vector<std::string>{"Host", "content-length", "Transfer-Encoding", "CONNECTION", "Upgrade", "TE"}) {
        auto r = build_request(with_header(owned, "1"), ep);
        ASSERT_FALSE(r) << owned;
        EXPECT_NE(r.error().message.find("is set by the transport"), std::string::npos);
    }
    auto spaced = build_request(with_header("X-A", " v"), ep);
    ASSERT_FALSE(spaced);
    EXPECT_NE(spaced.error().message.find("whitespace"), std::string::npos);
    EXPECT_TRUE(build_request(with_header("X-A", "v\twith tab and \xc3\xa9"), ep));
    EXPECT_TRUE(is_http_token("!#$%&'*+-.^_`|~09azAZ"));
}

TEST(Outbound, TargetWithControlBytesOrSpacesIsRefused) {
    Endpoint ep = parse_endpoint("https://crm.example.com/").value();
    for (std::string bad : std::vector<std::string>{"/a b", "/a\r\nX: 1", std::string("/a\0", 3), "/a\x7f", "/\xc3\xa9", "a", ""}) {
        ep.target = bad;
        auto r = build_request(with_header("X-A", "v"), ep);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, ErrorKind::permanent);
        EXPECT_NE(r.error().message.find("request target"), std::string::npos);
    }
    // parse_endpoint never yields such a target in the first place.
    EXPECT_FALSE(parse_endpoint("https://crm.example.com/a b"));
    EXPECT_FALSE(parse_endpoint("https://crm.example.com/a\r\nX: 1"));
}

TEST(Outbound, AcceptedRequestIsOneRequestOnTheWire) {
    auto bytes = build_request_bytes(with_header("X-Rollout-Credential-Id", "cred-1"),
                                     parse_endpoint("https://CRM.example.com:8443/api/people?x=1").value());
    ASSERT_TRUE(bytes) << bytes.error().describe();
    EXPECT_EQ(bytes->rfind("POST /api/people?x=1 HTTP/1.1\r\n", 0), 0u) << *bytes;
    EXPECT_NE(bytes->find("Host: crm.example.com:8443\r\n"), std::string::npos) << *bytes;
    EXPECT_NE(bytes->find("X-Rollout-Credential-Id: cred-1\r\n"), std::string::npos);
    EXPECT_NE(bytes->find("Content-Length: 7\r\n"), std::string::npos);
}

// The fuzz target's property, over inputs an attacker would try first.
TEST(Outbound, HostileInputsKeepTheOneRequestProperty) {
    const std::vector<std::string> values = {
        "plain", "a\r\nX-Injected: 1", "a\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", "a\nb", "a\rb",
        std::string("a\0b", 3), "\t", " lead", "trail ", "\x80\xff", "a: b", "a\x0b", "\x7f", ""};
    const std::vector<std::string> names = {"X-Rollout-Credential-Id", "Authorization", "X:Y", "X Y", "X\r\nY",
                                            "Content-Length", "Transfer-Encoding", "content-type", "x-a", ""};
    const std::vector<std::string> urls = {"https://crm.example.com/api/people", "http://127.0.0.1:9/a?b=c",
                                           "https://[::1]:8443/", "https://h.example/a%0D%0AX:%201",
                                           "https://h.example/a\r\nb", "https://h.example/?q=a b"};
    const std::vector<std::string> bodies = {"", R"({"a":1})", "0\r\n\r\nGET /x HTTP/1.1\r\n\r\n"};
    int accepted = 0;
    for (const auto& url : urls)
        for (const auto& name : names)
            for (const auto& value : values)
                for (const auto& body : bodies) {
                    HttpRequest r;
                    r.method = body.empty() ? verb::get : verb::post;
                    r.url = url;
                    r.headers = {{name, value}, {"x-a", "first"}, {"X-A", "second"}};
                    r.body = body;
                    const auto violation = outbound_property_violation(r);
                    ASSERT_FALSE(violation) << *violation << " for url=" << url << " name=" << name;
                    auto ep = parse_endpoint(url);
                    if (ep && build_request(r, *ep)) ++accepted;
                }
    EXPECT_GT(accepted, 0);  // the property was checked on accepted requests, not only on refusals
}

TEST(Outbound, OriginOfNormalizes) {
    EXPECT_EQ(origin_of("HTTPS://Crm.Example.COM/api").value(), "https://crm.example.com:443");
    EXPECT_EQ(origin_of("https://crm.example.com:8443/x?y").value(), "https://crm.example.com:8443");
    EXPECT_EQ(origin_of("http://127.0.0.1:9090").value(), "http://127.0.0.1:9090");
    EXPECT_EQ(origin_of("http://LOCALHOST/").value(), "http://localhost:80");
    EXPECT_EQ(origin_of("http://[0:0::1]:8080/a").value(), "http://[::1]:8080");
    EXPECT_EQ(origin_of("https://[2001:DB8::1]/").value(), "https://[2001:db8::1]:443");
    EXPECT_EQ(origin_of("https://x.example:0443/").value(), "https://x.example:443");
    EXPECT_FALSE(origin_of("ftp://x.example/"));
    EXPECT_FALSE(origin_of("http://x.example/"));  // plain http only for loopback
    EXPECT_FALSE(origin_of("https://x.example:99999/"));
    EXPECT_FALSE(origin_of("https://%31%30.0.0.1/"));
    EXPECT_FALSE(origin_of("not a url"));
}

TEST(Outbound, AddressClassifier) {
    auto pub = [](const char* a) { return is_public_address(ip::make_address(a)); };
    for (const char* blocked : {
             "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255",
             "192.168.1.1", "100.64.0.1", "100.127.255.255", "169.254.169.254", "0.0.0.0", "0.1.2.3",
             "224.0.0.1", "239.255.255.255", "240.0.0.1", "255.255.255.255", "::", "::1", "fc00::1", "fdff::1",
             "fe80::1", "febf::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",
             "64:ff9b::a01:203", "64:ff9b::7f00:1", "64:ff9b:1::1", "::10.0.0.1", "2002:a00:1::1"})
        EXPECT_FALSE(pub(blocked)) << blocked;
    for (const char* allowed : {"8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255",
                                "100.128.0.1", "169.253.0.1", "192.169.0.1", "11.0.0.1", "223.255.255.255",
                                "2606:4700:4700::1111", "2a00:1450::1", "::ffff:8.8.8.8", "64:ff9b::808:808",
                                "2002:808:808::1"})
        EXPECT_TRUE(pub(allowed)) << allowed;
}

TEST(Outbound, UpstreamTextIsCleanedAndCapped) {
    EXPECT_EQ(upstream_text("a\r\nb\tc\x7f" "d"), "a  b c d");
    EXPECT_EQ(upstream_text(std::string(600, 'x')).size(), 300u);
    // 299 ASCII bytes then a 2-byte sequence straddling the cap: the sequence is dropped whole.
    const std::string straddling = std::string(299, 'x') + "\xc3\xa9" + "tail";
    EXPECT_EQ(upstream_text(straddling), std::string(299, 'x'));
    EXPECT_EQ(upstream_text(std::string(298, 'x') + "\xc3\xa9" + "tail"), std::string(298, 'x') + "\xc3\xa9");

    HttpResponse html;
    html.status = 502;
    html.body = "<html><body>Bad Gateway</body></html>";
    const Error e = error_from_response(html);
    EXPECT_EQ(e.message, "Rollout answered HTTP 502");
    EXPECT_EQ(e.upstream, "");
    EXPECT_EQ(e.describe(), "transient (HTTP 502): Rollout answered HTTP 502");

    HttpResponse long_json;
    long_json.status = 422;
    long_json.body = R"({"errorMessage":")" + std::string(600, 'm') + R"(\r\nX-Injected: 1"})";
    const Error l = error_from_response(long_json);
    EXPECT_EQ(l.upstream, std::string(300, 'm'));

    HttpResponse field;
    field.status = 422;
    field.body = R"({"errors":[{"path":"email","message":"is\ninvalid"}]})";
    const Error f = error_from_response(field);
    EXPECT_EQ(f.upstream, "email: is invalid");
    EXPECT_EQ(f.describe(), R"(validation (HTTP 422): Rollout answered HTTP 422; upstream says: "email: is invalid")");

    HttpResponse list;
    list.status = 400;
    list.body = R"({"message":["a","b"]})";
    EXPECT_EQ(error_from_response(list).upstream, "a; b");
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
