// Loopback: inbound TLS ([server] tls_cert_file / tls_key_file). The server speaks HTTPS on its one port;
// plaintext is refused with a plain answer, a stalled handshake is cut off at request_timeout while other
// clients are served, a bad certificate is not hidden from the client, and a reload serves the new pair to
// new connections while an open SSE stream keeps going. Certificates are made at run time (fake_tls.hpp).
#include "test_server.hpp"

#include "fake_tls.hpp"
#include "server/app/metrics.hpp"
#include "server/http/tls_certificates.hpp"

#include <boost/json.hpp>

#include <sys/stat.h>

#include <openssl/ssl.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

namespace rollout_mcp::test {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::string kInitialize =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",)"
    R"("capabilities":{},"clientInfo":{"name":"tls-test","version":"1"}}})";

class Tls : public HttpTest {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "rollout-mcp-tls-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        material_ = fake::shared_test_tls();
        write_pair(material_);
    }
    void TearDown() override {
        HttpTest::TearDown();
        server_.reset();
        fs::remove_all(dir_);
    }

    void write_pair(const fake::TlsMaterial& m, mode_t key_mode = 0600) {
        std::ofstream(dir_ / "cert.pem", std::ios::trunc) << m.cert_pem;
        std::ofstream(dir_ / "key.pem", std::ios::trunc) << m.key_pem;
        ::chmod((dir_ / "key.pem").c_str(), key_mode);
    }
    void start_tls(const std::function<void(Config&)>& tweak = {}) {
        start([&](Config& c) {
            c.server.tls_cert_file = (dir_ / "cert.pem").string();
            c.server.tls_key_file = (dir_ / "key.pem").string();
            if (tweak) tweak(c);
        });
    }
    ClientTls trust(const std::string& ca_pem) const { return ClientTls{ca_pem, "localhost"}; }
    CallOptions https(const std::string& ca_pem, std::string verify_host = "localhost") const {
        CallOptions o;
        o.tls = true;
        o.ca_pem = ca_pem;
        o.verify_host = std::move(verify_host);
        o.headers = {{"Accept", "application/json, text/event-stream"}, {"Content-Type", "application/json"}};
        return o;
    }
    int healthz() override { return test::call(port(), "GET", "/healthz", {}, https(material_.ca_pem)).status; }

    fs::path dir_;
    fake::TlsMaterial material_;
};

TEST_F(Tls, HealthReadinessAndMcpWorkOverTls) {
    start_tls();
    EXPECT_EQ(healthz(), 200);
    auto ready = test::call(port(), "GET", "/readyz", {}, https(material_.ca_pem));
    ASSERT_EQ(ready.status, 200) << ready.body << ready.error;
    const auto ready_json = ready.json();
    const auto& tls = ready_json.at("tls").as_object();
    EXPECT_GT(tls.at("expiresInSeconds").as_int64(), 24 * 3600) << ready.body;   // valid two days
    EXPECT_EQ(tls.at("minVersion"), "1.2");
    EXPECT_EQ(tls.at("notAfter").as_string().size(), 20u) << ready.body;
    auto init = test::call(port(), "POST", "/mcp",
                     kInitialize,
                     https(material_.ca_pem));
    ASSERT_EQ(init.status, 200) << init.body << init.error;
    EXPECT_FALSE(init.header("mcp-session-id").empty());
    const auto text = metrics::registry().render();
    const auto at = text.find("\nrollout_mcp_tls_cert_expiry_seconds ");
    ASSERT_NE(at, std::string::npos) << "no sample of rollout_mcp_tls_cert_expiry_seconds";
    const double expiry = std::stod(text.substr(at + std::string("\nrollout_mcp_tls_cert_expiry_seconds ").size()));
    const double now = static_cast<double>(std::time(nullptr));
    EXPECT_GT(expiry, now + 24 * 3600);   // the test certificate is valid for two days
    EXPECT_LT(expiry, now + 3 * 24 * 3600);
}

TEST_F(Tls, PlaintextToTheTlsPortIsRefusedWithAPlainAnswer) {
    start_tls();
    Client plain(port());
    plain.send(http_request("GET", "/healthz", {{"Host", "127.0.0.1"}}));
    auto r = plain.read_response(2s);
    EXPECT_EQ(r.status, 400) << r.error;
    EXPECT_NE(r.body.find("HTTPS"), std::string::npos) << r.body;
    EXPECT_TRUE(plain.wait_closed(2s));
    EXPECT_EQ(healthz(), 200) << "the server keeps serving TLS clients";
}

TEST_F(Tls, HostCheckAndBodyLimitHoldOverTls) {
    start_tls([](Config& c) { c.server.max_body_bytes = 4096; });
    auto o = https(material_.ca_pem);
    o.headers.emplace_back("Host", "attacker.example:443");   // DNS rebinding: refused as over plain HTTP
    auto rebound = test::call(port(), "POST", "/mcp", kInitialize, o);
    EXPECT_EQ(rebound.status, 403) << rebound.body << rebound.error;
    auto big = test::call(port(), "POST", "/mcp", std::string(8192, ' '), https(material_.ca_pem));
    EXPECT_EQ(big.status, 413) << big.error;
    EXPECT_EQ(healthz(), 200);
}

TEST_F(Tls, OldProtocolsAndForeignAlpnAreRefused) {
    start_tls();
    ClientTls tls11{material_.ca_pem};
    tls11.min_version = TLS1_1_VERSION;
    tls11.max_version = TLS1_1_VERSION;
    EXPECT_THROW(Client c(port(), &tls11), std::runtime_error) << "TLS 1.1 was accepted";
    ClientTls h2_only{material_.ca_pem};
    h2_only.alpn = {"h2"};
    EXPECT_THROW(Client c(port(), &h2_only), std::runtime_error) << "an h2-only client was accepted";
    ClientTls both{material_.ca_pem};
    both.alpn = {"h2", "http/1.1"};
    Client ok(port(), &both);   // http/1.1 is chosen among the offers
    ok.send(http_request("GET", "/healthz", {{"Host", "localhost"}}));
    EXPECT_EQ(ok.read_response().status, 200);
}

TEST_F(Tls, MinimumVersionOneThreeRefusesTlsOneTwo) {
    start_tls([](Config& c) { c.server.tls_min_version = "1.3"; });
    ClientTls tls12{material_.ca_pem};
    tls12.max_version = TLS1_2_VERSION;
    EXPECT_THROW(Client c(port(), &tls12), std::runtime_error);
    ClientTls tls13{material_.ca_pem};
    tls13.min_version = TLS1_3_VERSION;
    Client c(port(), &tls13);
    c.send(http_request("GET", "/healthz", {{"Host", "localhost"}}));
    EXPECT_EQ(c.read_response().status, 200);
}

TEST_F(Tls, HandshakesPastTheCapAreClosedAtOnce) {
    start_tls([](Config& c) {
        c.server.max_tls_handshakes = 2;
        c.server.request_timeout = std::chrono::milliseconds(1500);
    });
    Client first(port()), second(port());   // two connections that never start their handshake
    std::this_thread::sleep_for(100ms);     // both reached the handshake stage
    Client third(port());
    EXPECT_TRUE(third.wait_closed(500ms)) << "a third pending handshake was not closed at once";
    EXPECT_FALSE(first.wait_closed(200ms)) << "the first two keep their request_timeout";
    EXPECT_TRUE(first.wait_closed(3s));
    EXPECT_TRUE(second.wait_closed(3s));
    EXPECT_EQ(healthz(), 200) << "served again once the stalled handshakes timed out";
}

TEST_F(Tls, HandshakeAndFirstRequestShareOneRequestTimeout) {
    start_tls([](Config& c) { c.server.request_timeout = std::chrono::milliseconds(800); });
    const auto t0 = Clock::now();
    const auto trusted = trust(material_.ca_pem);
    Client quiet(port(), &trusted);   // handshakes, then never sends a request
    EXPECT_TRUE(quiet.wait_closed(3s));
    EXPECT_LT(Clock::now() - t0, 1300ms) << "the handshake bought the first request a second period";
}

TEST_F(Tls, StalledHandshakeIsCutOffWhileOthersAreServed) {
    start_tls([](Config& c) { c.server.request_timeout = std::chrono::milliseconds(600); });
    // One sends nothing at all, one a ClientHello's first bytes and then nothing.
    Client silent(port());
    Client partial(port());
    partial.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    const auto t0 = Clock::now();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(healthz(), 200) << "served while two handshakes stall";
    EXPECT_TRUE(silent.wait_closed(3s));
    EXPECT_TRUE(partial.wait_closed(3s));
    EXPECT_LT(Clock::now() - t0, 2500ms) << "cut off by request_timeout, not later";
}

TEST_F(Tls, WrongHostAndExpiredCertificatesFailTheClient) {
    start_tls();
    // The same server answers a correct client, so each failure below is the client's verification.
    ASSERT_EQ(healthz(), 200);
    auto wrong = test::call(port(), "GET", "/healthz", {}, https(material_.ca_pem, "mcp.example.test"));
    EXPECT_EQ(wrong.status, 0);
    EXPECT_NE(wrong.error.find("certificate verify failed"), std::string::npos) << wrong.error;
    auto untrusted = test::call(port(), "GET", "/healthz", {}, https(fake::make_test_tls().ca_pem));
    EXPECT_EQ(untrusted.status, 0) << "a CA the client does not trust";
    EXPECT_NE(untrusted.error.find("certificate verify failed"), std::string::npos) << untrusted.error;

    fake::TlsOptions lapsed;
    lapsed.not_before = std::chrono::hours(-72);
    lapsed.not_after = std::chrono::hours(-24);
    const auto expired = fake::make_test_tls(lapsed);
    write_pair(expired);
    ASSERT_TRUE(server().tls()->reload()) << "an expired pair still loads: the server does not hide it";
    auto r = test::call(port(), "GET", "/healthz", {}, https(expired.ca_pem));
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
    ClientTls raw{expired.ca_pem};   // the SSE client fails the same way
    EXPECT_THROW(Client refused(port(), &raw), std::runtime_error);
    write_pair(material_);
    ASSERT_TRUE(server().tls()->reload());
}

TEST_F(Tls, ReloadServesTheNewPairToNewConnectionsWhileAnOpenStreamGoesOn) {
    start_tls([](Config& c) { c.mcp.sse_keepalive = std::chrono::milliseconds(100); });
    // A session and its GET stream, over TLS with the first certificate.
    auto init = test::call(port(), "POST", "/mcp",
                     kInitialize,
                     https(material_.ca_pem));
    const auto session = init.header("mcp-session-id");
    ASSERT_FALSE(session.empty()) << init.body << init.error;
    const auto tls_first = trust(material_.ca_pem);
    Client stream(port(), &tls_first);
    stream.send(http_request("GET", "/mcp", {{"Host", "127.0.0.1"}, {"Accept", "text/event-stream"},
                                            {"Mcp-Session-Id", session}}));
    ASSERT_EQ(stream.read_head().status, 200);
    ASSERT_TRUE(stream.next_event(2s));   // priming

    const auto next = fake::make_test_tls();
    write_pair(next);
    ASSERT_TRUE(server().tls()->reload());
    EXPECT_EQ(test::call(port(), "GET", "/healthz", {}, https(next.ca_pem)).status, 200) << "new connections: new pair";
    EXPECT_EQ(test::call(port(), "GET", "/healthz", {}, https(material_.ca_pem)).status, 0) << "the old pair is gone";
    // The open stream still carries keep-alives, on the connection that began with the old pair.
    EXPECT_TRUE(stream.next_event(2s, false)) << "the open SSE stream went quiet after the reload";
    EXPECT_FALSE(stream.closed());
    material_ = next;   // for TearDown's health check
}

TEST_F(Tls, BadNewPairKeepsTheOldOne) {
    start_tls();
    const auto other = fake::make_test_tls();
    // A key that does not match the certificate.
    std::ofstream(dir_ / "key.pem", std::ios::trunc) << other.key_pem;
    auto mismatched = server().tls()->reload();
    ASSERT_FALSE(mismatched);
    EXPECT_NE(mismatched.error().message.find("server.tls_key_file"), std::string::npos) << mismatched.error().message;
    EXPECT_NE(mismatched.error().message.find("does not match"), std::string::npos) << mismatched.error().message;
    // A key readable by others.
    write_pair(other, 0644);
    auto exposed = server().tls()->reload();
    ASSERT_FALSE(exposed);
    EXPECT_NE(exposed.error().message.find("chmod 600"), std::string::npos) << exposed.error().message;
    // Not PEM at all.
    std::ofstream(dir_ / "cert.pem", std::ios::trunc) << "not a certificate";
    ::chmod((dir_ / "key.pem").c_str(), 0600);
    EXPECT_FALSE(server().tls()->reload());
    EXPECT_EQ(healthz(), 200) << "still serving the first pair";
}

TEST(TlsStartUp, KeyReadableByOthersOrMissingFilesAreRefused) {
    std::string tmpl = (fs::temp_directory_path() / "rollout-mcp-tls-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    const fs::path dir = tmpl;
    const auto& m = fake::shared_test_tls();
    std::ofstream(dir / "cert.pem") << m.cert_pem;
    std::ofstream(dir / "key.pem") << m.key_pem;
    ::chmod((dir / "key.pem").c_str(), 0640);
    ServerSettings s;
    s.tls_cert_file = (dir / "cert.pem").string();
    s.tls_key_file = (dir / "key.pem").string();
    try {
        TlsCertificates refused(s);
        ADD_FAILURE() << "a group-readable key was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("server.tls_key_file"), std::string::npos) << e.what();
    }
    s.tls_key_file = (dir / "missing.pem").string();
    EXPECT_THROW(TlsCertificates missing(s), std::runtime_error);
    fs::remove_all(dir);
}

}  // namespace
}  // namespace rollout_mcp::test
