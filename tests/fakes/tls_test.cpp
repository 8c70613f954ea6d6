// Tests of the fake Rollout's TLS listener: a client verifying with the generated CA and the host name (SNI)
// succeeds; one without the CA, with another CA, or expecting another host name is refused.
#include "fake_tls.hpp"
#include "fake_test.hpp"

namespace rollout_mcp::fake::test {
using namespace std::chrono_literals;

class FakeTlsTest : public FakeTest {
protected:
    bool with_tls() const override { return true; }
    CallOptions tls(const std::string& host = "localhost") {
        CallOptions o;
        o.tls = true;
        o.verify_host = host;
        o.ca_pem = fake->ca_pem();
        return o;
    }
};

TEST_F(FakeTlsTest, ServesTheSameApiOverVerifiedTls) {
    ASSERT_NE(fake->tls_port(), 0);
    ASSERT_NE(fake->ca_pem().find("BEGIN CERTIFICATE"), std::string::npos);
    EXPECT_EQ(fake->crm_url(true), "https://localhost:" + std::to_string(fake->tls_port()) + "/crm/api");
    auto cred = credential("highlevel");
    auto r = crm("POST", "/people", cred, R"({"firstName":"Tls","lastName":"Buyer"})", tls());
    ASSERT_EQ(r.status, 201) << r.error << r.body;
    EXPECT_EQ(api("GET", "/platform/api/connectors", {}, tls("127.0.0.1")).status, 200);   // IP SAN
    EXPECT_EQ(api("GET", "/platform/api/credentials", {}).status, 200);   // plain listener still there
    auto log = fake->requests();
    ASSERT_EQ(log.size(), 3u);
    EXPECT_TRUE(log[0].tls);
    EXPECT_FALSE(log[2].tls);
    EXPECT_EQ(fake->records(cred, "people").size(), 1u);
}

TEST_F(FakeTlsTest, VerificationFailuresAreRefused) {
    auto no_ca = tls();
    no_ca.ca_pem.clear();
    auto r = api("GET", "/platform/api/connectors", {}, no_ca);
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.error.find("handshake"), std::string::npos) << r.error;

    auto other_ca = tls();
    other_ca.ca_pem = make_test_tls().ca_pem;
    EXPECT_EQ(api("GET", "/platform/api/connectors", {}, other_ca).status, 0);

    auto wrong_name = tls("rollout.example.com");
    wrong_name.connect_host = "127.0.0.1";
    auto w = api("GET", "/platform/api/connectors", {}, wrong_name);
    EXPECT_EQ(w.status, 0);
    EXPECT_NE(w.error.find("handshake"), std::string::npos) << w.error;
    EXPECT_TRUE(fake->requests().empty());
}

TEST_F(FakeTlsTest, TimeoutAfterWriteOverTls) {
    auto cred = credential("lofty");
    FaultRule rule;
    rule.action = FaultRule::Action::timeout_after_write;
    rule.path_prefix = "/crm/api/notes";
    fake->add_fault(rule);
    const auto pid = person(cred);
    auto o = tls();
    o.timeout = 500ms;
    auto r = crm("POST", "/notes", cred, R"({"personId":")" + pid + R"(","body":"great house"})", o);
    EXPECT_TRUE(r.timed_out) << r.error;
    EXPECT_EQ(fake->records(cred, "notes").size(), 1u);
}

TEST(FakeTlsMaterial, GeneratesACaAndALeafItSigns) {
    auto m = make_test_tls();
    EXPECT_NE(m.ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
    EXPECT_NE(m.cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
    EXPECT_NE(m.key_pem.find("PRIVATE KEY"), std::string::npos);
    EXPECT_NE(m.ca_pem, make_test_tls().ca_pem);   // fresh every time
    EXPECT_EQ(&shared_test_tls(), &shared_test_tls());
}

}  // namespace rollout_mcp::fake::test
