// The fake Rollout's webhook subscriptions (POST/GET /crm/api/webhooks, DELETE /crm/api/webhooks/{id}, per
// credential) and the deliveries it sends: what a receiver gets (headers, body shape, the four signature
// forms computed independently of the server's verifier), and who gets them.
#include "fake_test.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include <mutex>
#include <thread>

namespace rollout_mcp::fake::test {
namespace json = boost::json;

TEST_F(FakeTest, WebhookSubscriptionsAreCreatedListedAndDeletedPerCredential) {
    auto mine = credential("highlevel");
    auto other = credential("highlevel");
    auto r = crm("POST", "/webhooks", mine, R"({"url":"https://example.com/h","event":"peopleCreated","filters":{}})");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string id(r.json().at("id").as_string());
    EXPECT_EQ(r.json().at("status").as_string(), "Active");
    EXPECT_EQ(r.json().at("event").as_string(), "peopleCreated");
    auto list = crm("GET", "/webhooks", mine);
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(list.json().at("webhooks").as_array().size(), 1u);
    EXPECT_EQ(crm("GET", "/webhooks", other).json().at("webhooks").as_array().size(), 0u);
    EXPECT_EQ(crm("DELETE", "/webhooks/" + id, other).status, 404);   // another credential's
    for (const char* bad : {R"({"url":"ftp://x","event":"peopleCreated"})", R"({"url":"https://x/h","event":"peopleExploded"})",
                            R"({"event":"peopleCreated"})", R"({"url":"https://x/h","event":"notesUpdated","filters":[]})"})
        EXPECT_EQ(crm("POST", "/webhooks", mine, bad).status, 400) << bad;
    EXPECT_EQ(crm("DELETE", "/webhooks/" + id, mine).status, 200);
    EXPECT_TRUE(fake->webhooks(mine).empty());
}

TEST_F(FakeTest, DeliveriesAreSignedInEachFormAndGoOnlyToMatchingSubscriptions) {
    // A loopback receiver that records what it gets and answers 204.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = acceptor.local_endpoint().port();
    std::mutex mu;
    std::vector<boost::beast::http::request<boost::beast::http::string_body>> got;
    std::thread receiver([&] {
        for (int i = 0; i < 3; ++i) {
            boost::asio::ip::tcp::socket s(io);
            acceptor.accept(s);
            boost::beast::flat_buffer buf;
            boost::beast::http::request<boost::beast::http::string_body> req;
            boost::beast::http::read(s, buf, req);
            { std::lock_guard lock(mu); got.push_back(req); }
            boost::beast::http::response<boost::beast::http::empty_body> res{boost::beast::http::status::no_content, 11};
            boost::beast::http::write(s, res);
        }
    });
    auto cred = credential("highlevel");
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/in";
    ASSERT_EQ(crm("POST", "/webhooks", cred, R"({"url":")" + url + R"(","event":"appointmentsUpdated"})").status, 201);
    ASSERT_EQ(crm("POST", "/webhooks", cred, R"({"url":")" + url + R"(","event":"notesCreated"})").status, 201);
    EXPECT_TRUE(fake->deliver(cred, {"peopleDeleted", {"p"}, "", ""}).empty());   // nobody subscribed
    auto sent = fake->deliver(cred, {"appointmentsUpdated", {"a1", "a2"}, "evt-1", ""});
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].status, 204u);
    fake->deliver(cred, {"notesCreated", {"n1"}, "evt-2", ""}, Signing::valid, SignedInput::base64_body, DigestForm::base64);
    fake->deliver(cred, {"notesCreated", {"n1"}, "evt-3", ""}, Signing::unsigned_);
    receiver.join();
    ASSERT_EQ(got.size(), 3u);
    const auto body = json::parse(got[0].body()).as_object();
    EXPECT_EQ(body.at("eventId").as_string(), "evt-1");
    EXPECT_EQ(body.at("event").as_string(), "appointmentsUpdated");
    EXPECT_EQ(body.at("resourceIds").as_array().size(), 2u);
    EXPECT_EQ(body.at("uri").as_string(), fake->crm_url() + "/appointments?ids=a1,a2");
    EXPECT_EQ(std::string(got[0]["X-Rollout-Signature"]),
              webhook_signature(kSecret, got[0].body(), SignedInput::raw_body, DigestForm::hex));
    EXPECT_EQ(std::string(got[0]["X-Rollout-Signature"]).size(), 64u);
    EXPECT_EQ(std::string(got[1]["X-Rollout-Signature"]).size(), 44u);
    EXPECT_TRUE(got[2]["X-Rollout-Signature"].empty());
}

}  // namespace rollout_mcp::fake::test
