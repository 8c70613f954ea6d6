// Tests of the fake Rollout: a fixture that runs one FakeRollout per test and reaches it with the one test
// client (tests/support/http_client.hpp) over real loopback sockets.
#pragma once

#include "fake_rollout.hpp"
#include "support/http_client.hpp"

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

using rollout_mcp::test::call;
using rollout_mcp::test::call_kept_alive;
using rollout_mcp::test::CallOptions;
using rollout_mcp::test::HttpResponse;
using rollout_mcp::test::SequencedRequest;

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
    HttpResponse api(const std::string& method, const std::string& target, const std::string& body = {},
                   CallOptions options = {}) {
        options.headers.emplace_back("Authorization", "Bearer " + token);
        if (!body.empty()) options.headers.emplace_back("Content-Type", "application/json");
        return call(options.tls ? fake->tls_port() : fake->port(), method, target, body, options);
    }
    // A CRM call for one credential.
    HttpResponse crm(const std::string& method, const std::string& target, const std::string& credential,
                   const std::string& body = {}, CallOptions options = {}) {
        options.headers.emplace_back("X-Rollout-Credential-Id", credential);
        return api(method, "/crm/api" + target, body, std::move(options));
    }
    HttpResponse control(const std::string& method, const std::string& target, const std::string& body = {}) {
        return call(fake->port(), method, "/_fake" + target, body);
    }
    std::string credential(const std::string& app_key, const std::string& sub = "team-1") {
        return std::string(fake->add_credential(app_key, sub).at("id").as_string());
    }
    // POST /crm/api/people and return the id.
    std::string person(const std::string& cred, const std::string& first = "Ann", const std::string& email = "ann@example.com") {
        auto r = crm("POST", "/people", cred,
                     R"({"firstName":")" + first + R"(","lastName":"Buyer","emails":[{"value":")" + email + R"("}]})");
        EXPECT_EQ(r.status, 201) << r.body;
        return std::string(r.json().at("id").as_string());
    }

    std::unique_ptr<FakeRollout> fake;
    std::string token;
};

}  // namespace rollout_mcp::fake::test
