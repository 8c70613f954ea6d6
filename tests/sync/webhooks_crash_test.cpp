// A delivery answered 2xx is durable: the server process is SIGKILLed right after the answer, and the
// delivery is in the inbox when the database is opened again; a server started on it afterwards answers
// Rollout's redelivery 2xx without a second row. The server runs in a forked child (as test_keys.cpp does),
// on the backend under test; the parent holds no connection or thread when it forks.
#include "tests/sync/hook_server.hpp"

#include "fake_webhooks.hpp"
#include "support/test_database.hpp"
#include "tests/crypto/test_support.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <csignal>

#include <sys/wait.h>
#include <unistd.h>

namespace rollout_mcp::sync_test {
namespace {

constexpr const char* kSecret = "crash-test-client-secret";

class WebhooksCrash : public ::testing::Test {
protected:
    std::unique_ptr<storage::SqlStorage> open() const {
        return database.open(crypto::MasterKey{crypto::SecretBytes::copy_of(master.view()), "test master key", {}});
    }

    // Forks a child serving the hooks on the database; returns its pid and port.
    std::pair<pid_t, std::uint16_t> start_child() {
        int fds[2];
        if (::pipe(fds) != 0) throw std::runtime_error("pipe");
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork");
        if (pid == 0) {
            ::close(fds[0]);
            try {
                StorageExecutor storage(open());
                HookServer server(storage);
                const std::uint16_t port = server.port();
                if (::write(fds[1], &port, sizeof port) != sizeof port) ::_exit(3);
                for (;;) ::pause();
            } catch (...) {
                ::_exit(2);
            }
        }
        ::close(fds[1]);
        std::uint16_t port = 0;
        const auto n = ::read(fds[0], &port, sizeof port);
        ::close(fds[0]);
        if (n != sizeof port) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            throw std::runtime_error("the child server did not start");
        }
        return {pid, port};
    }

    static void kill9(pid_t pid) {
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFSIGNALED(status));
    }

    test::TempDir dir;
    test::TestDatabase database{dir.path() / "db.sqlite"};
    crypto::SecretBytes master = crypto::SecretBytes::random(32);
};

TEST_F(WebhooksCrash, ADeliveryAnswered2xxSurvivesSigkillAndItsRedeliveryIsDeduplicated) {
    if (auto why = database.unavailable(); !why.empty()) GTEST_SKIP() << why;
    std::string tenant, route;
    {
        auto s = open();
        tenant = s->create_tenant("crash").value().id;
        const std::string settings = R"({"projectEnvKey":"p","clientId":"c","endpoints":{"platform":"","crm":"","automation":""}})";
        ASSERT_TRUE(s->put_rollout_config(tenant, settings, test::bytes(kSecret)));
        ASSERT_TRUE(s->put_crm_connection(tenant, "highlevel", "hl", test::bytes("cred-1")));
        route = std::string(s->issue_hook_route(tenant, "highlevel").value().text());
    }   // closed before the fork: the child opens its own
    const std::string path = std::string(kHookPrefix) + "/hooks/rollout/" + route;
    const auto body = fake::webhook_body({"appointmentsUpdated", {"a1"}, "evt-crash", ""}, "http://127.0.0.1:9/crm/api");
    auto [pid, port] = start_child();
    const auto url = "http://127.0.0.1:" + std::to_string(port) + path;
    const auto answer = fake::post_webhook(url, body, kSecret);
    kill9(pid);   // at once after the 2xx: nothing after the answer may be needed for durability
    ASSERT_EQ(answer.status, 200u) << answer.body;
    {
        auto s = open();
        auto rows = s->list_hook_inbox(tenant, 10);
        ASSERT_TRUE(rows);
        ASSERT_EQ(rows->size(), 1u);
        EXPECT_EQ(rows->at(0).delivery.event_id, "evt-crash");
    }
    // Restarted: Rollout redelivers (it may not have seen our 2xx); 2xx, still one row.
    auto [pid2, port2] = start_child();
    const auto url2 = "http://127.0.0.1:" + std::to_string(port2) + path;
    const auto again = fake::post_webhook(url2, body, kSecret);
    const auto next = fake::post_webhook(url2, fake::webhook_body({"notesCreated", {"n1"}, "evt-2", ""}, "http://x"), kSecret);
    kill9(pid2);
    EXPECT_EQ(again.status, 200u);
    EXPECT_NE(again.body.find("duplicate"), std::string::npos);
    EXPECT_EQ(next.status, 200u);
    auto s = open();
    EXPECT_EQ(s->list_hook_inbox(tenant, 10).value().size(), 2u);
}

}  // namespace
}  // namespace rollout_mcp::sync_test
