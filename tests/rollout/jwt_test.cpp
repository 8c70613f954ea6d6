// JWT minting (signature checked with OpenSSL independently), token refresh and pre-minted expiry.
#include "rollout/jwt.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace rollout_mcp::rollout::test {
namespace {

std::vector<std::string> split3(const std::string& t) {
    auto a = t.find('.'), b = t.find('.', a + 1);
    return {t.substr(0, a), t.substr(a + 1, b - a - 1), t.substr(b + 1)};
}

TEST(Jwt, Base64UrlRoundTrip) {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\xfd?>"}) {
        const auto enc = base64url_encode(s);
        EXPECT_EQ(enc.find_first_of("+/="), std::string::npos) << enc;
        EXPECT_EQ(base64url_decode(enc).value(), s);
    }
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_FALSE(base64url_decode("a$bc"));
}

TEST(Jwt, MintedTokenVerifiesWithOpenSsl) {
    const std::string secret = "s3cr3t-client-secret";
    const std::string token = mint_hs512({"client-1", "team-42", 1700000000, 1700000900}, secret);
    auto parts = split3(token);
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(boost::json::parse(*base64url_decode(parts[0])), J(R"({"alg":"HS512","typ":"JWT"})"));
    EXPECT_EQ(boost::json::parse(*base64url_decode(parts[1])),
              J(R"({"iss":"client-1","sub":"team-42","iat":1700000000,"exp":1700000900})"));
    // Independent check: HMAC-SHA512 over "header.payload" with the secret.
    const std::string input = parts[0] + "." + parts[1];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha512(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    ASSERT_EQ(len, 64u);
    EXPECT_EQ(*base64url_decode(parts[2]), std::string(reinterpret_cast<char*>(mac), len));
    EXPECT_EQ(jwt_expiry(token).value(), 1700000900);
}

TEST(Jwt, TokenSourceRefreshesBeforeExpiry) {
    auto src = TokenSource::minted({"c", "secret", "team", std::chrono::seconds{600}, std::chrono::seconds{60}});
    const auto t0 = std::chrono::system_clock::time_point{std::chrono::seconds{1'800'000'000}};
    auto a = src.token(t0).value();
    EXPECT_EQ(jwt_expiry(a).value(), 1'800'000'600);
    EXPECT_EQ(src.token(t0 + std::chrono::seconds{500}).value(), a);  // still > 60 s left: cached
    auto b = src.token(t0 + std::chrono::seconds{541}).value();     // within the margin: re-minted
    EXPECT_NE(a, b);
    EXPECT_EQ(jwt_expiry(b).value(), 1'800'000'000 + 541 + 600);
}

TEST(Jwt, PreMintedTokenExpiryIsCheckedLocally) {
    const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{1'800'000'000}};
    auto valid = TokenSource::pre_minted(mint_hs512({"c", "t", 0, 1'800'003'600}, "k"));
    EXPECT_TRUE(valid.token(now));
    auto expired = TokenSource::pre_minted(mint_hs512({"c", "t", 0, 1'799'999'000}, "k"));
    auto r = expired.token(now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorKind::auth);
    EXPECT_NE(r.error().message.find("expired"), std::string::npos);
    auto garbage = TokenSource::pre_minted("not-a-jwt");
    EXPECT_EQ(garbage.token(now).error().code, ErrorKind::auth);
}

// The token goes into the Authorization header as it is: every segment, not only the exp one, must be
// base64url, and there must be exactly three (a CR/LF in the signature would split the header).
TEST(Jwt, PreMintedTokenMustBeThreeBase64UrlSegments) {
    const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{1'800'000'000}};
    const std::string good = mint_hs512({"c", "t", 0, 1'800'003'600}, "k");
    ASSERT_TRUE(jwt_expiry(good));
    for (const std::string& bad : {good + "\r\nX-Evil: 1", good + "\n", good + " ", good + std::string(1, '\0'),
                                   good + ".x", good + "=", "\r\n" + good, good.substr(0, good.rfind('.') + 1),
                                   good.substr(0, good.rfind('.')), good.substr(0, good.rfind('.')) + ".a/b+c",
                                   "." + good.substr(good.find('.'))}) {
        EXPECT_FALSE(jwt_expiry(bad).has_value()) << bad;
        auto source = TokenSource::pre_minted(bad);
        auto r = source.token(now);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorKind::auth);
    }
}

TEST(Jwt, ExpiredTokenNeverCallsOut) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{}; });
    auto auth = std::make_shared<TokenSource>(TokenSource::pre_minted(mint_hs512({"c", "t", 0, 1000}, "k")));
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config_for(stub.url(), auth));
    auto r = run_sync(client.list_credentials());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorKind::auth);
    EXPECT_EQ(r.error().status, 0u);
    EXPECT_TRUE(stub.requests().empty());
}

TEST(Jwt, BearerTokenIsSentAndVerifiable) {
    ScriptedRollout stub([](const RecordedRequest&) { return ScriptedReply{200, R"([{"id":"cred-1","appKey":"lofty"}])"}; });
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config_for(stub.url(), test_auth("abc")));
    auto r = run_sync(client.list_credentials(std::string("lofty")));
    ASSERT_TRUE(r) << r.error().describe();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].id, "cred-1");
    auto req = stub.requests().at(0);
    EXPECT_EQ(req.target, "/platform/api/credentials?appKey=lofty");
    const std::string auth = req.headers.at("authorization");
    ASSERT_EQ(auth.rfind("Bearer ", 0), 0u);
    auto parts = split3(auth.substr(7));
    EXPECT_EQ(base64url_encode(hmac_sha512("abc", parts[0] + "." + parts[1])), parts[2]);
    auto claims = boost::json::parse(*base64url_decode(parts[1])).as_object();
    EXPECT_EQ(claims.at("iss"), "client-1");
    EXPECT_EQ(claims.at("sub"), "team-1");
    EXPECT_EQ(req.headers.count("x-rollout-credential-id"), 0u);  // platform host: no credential header
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
