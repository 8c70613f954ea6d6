// Tests of the fake Rollout: a small blocking HTTP/HTTPS client over real loopback sockets (Beast stays in
// test_client.cpp so the test files compile fast) and a fixture that runs one FakeRollout per test.
#pragma once

#include "fake_rollout.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rollout_mcp::fake::test {

struct CallOptions {
    bool tls = false;
    std::string connect_host = "127.0.0.1";      // the address dialled
    std::string verify_host = "localhost";       // SNI + certificate host-name check (tls)
    std::string ca_pem;                          // trusted CA (tls); empty = system store only
    std::chrono::milliseconds timeout{5000};     // whole exchange
    std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpResult {
    unsigned status = 0;                         // 0 when no answer arrived
    std::string body;
    std::map<std::string, std::string> headers;  // lower-cased names
    std::string error;                           // transport error ("" when a response arrived)
    bool timed_out = false;
    std::chrono::milliseconds elapsed{0};
    boost::json::value json() const { return boost::json::parse(body); }
};

HttpResult call(std::uint16_t port, const std::string& method, const std::string& target, const std::string& body = {},
                const CallOptions& options = {});

struct SequencedRequest {
    std::string method, target, body;
    std::vector<std::pair<std::string, std::string>> headers;
};
// The requests one after another on ONE kept-alive plain-HTTP connection; stops after the first transport
// error (that result carries it), so the 2nd+ requests exercise faults on a reused connection.
std::vector<HttpResult> call_kept_alive(std::uint16_t port, const std::vector<SequencedRequest>& requests,
                                        const CallOptions& options = {});

class FakeTest : public ::testing::Test {
protected:
    static constexpr const char* kSecret = "test-client-secret";
    void SetUp() override {
        Options o;
        o.client_secret = kSecret;
        o.tls = with_tls();
        fake = std::make_unique<FakeRollout>(o);
        fake->start();
        token = fake->mint_jwt("team-1");
    }
    void TearDown() override { fake.reset(); }
    virtual bool with_tls() const { return false; }

    // A platform / automation call with the team's JWT.
    HttpResult api(const std::string& method, const std::string& target, const std::string& body = {},
                   CallOptions options = {}) {
        options.headers.emplace_back("Authorization", "Bearer " + token);
        if (!body.empty()) options.headers.emplace_back("Content-Type", "application/json");
        return call(options.tls ? fake->tls_port() : fake->port(), method, target, body, options);
    }
    // A CRM call for one credential.
    HttpResult crm(const std::string& method, const std::string& target, const std::string& credential,
                   const std::string& body = {}, CallOptions options = {}) {
        options.headers.emplace_back("X-Rollout-Credential-Id", credential);
        return api(method, "/crm/api" + target, body, std::move(options));
    }
    HttpResult control(const std::string& method, const std::string& target, const std::string& body = {}) {
        return call(fake->port(), method, "/_fake" + target, body);
    }
    std::string credential(const std::string& app_key, const std::string& sub = "team-1") {
        return std::string(fake->add_credential(app_key, sub).at("id").as_string());
    }
    // POST /crm/api/people and return the id.
    std::string person(const std::string& cred, const std::string& first = "Ann", const std::string& email = "ann@example.com") {
        auto r = crm("POST", "/people", cred,
                     R"({"firstName":")" + first + R"(","lastName":"Buyer","emails":[{"value":")" + email + R"("}]})");
        EXPECT_EQ(r.status, 201u) << r.body;
        return std::string(r.json().at("id").as_string());
    }

    std::unique_ptr<FakeRollout> fake;
    std::string token;
};

}  // namespace rollout_mcp::fake::test
