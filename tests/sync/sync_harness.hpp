// Harness for outbox tests: a real SQLite store in a temp dir, the storage executor, an io_context with two
// threads, the fake Rollout over loopback, a TeamRollout and a SyncWorker wired as in `serve`.
#pragma once

#include "support/test_database.hpp"

#include "server/app/config.hpp"
#include "storage/storage_executor.hpp"
#include "server/sync/sync_runner.hpp"
#include "server/sync/sync_worker.hpp"
#include "server/sync/rollout_rate_gate.hpp"
#include "server/sync/team_rollout.hpp"
#include "server/mcp/tool_registry.hpp"

#include "fake_rollout.hpp"
#include "tests/crypto/test_support.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace rollout_mcp::sync_test {

// Test defaults: fast backoff, short poll, short Rollout timeout.
SyncSettings fast_settings();

class Harness {
public:
    struct Options {
        SyncSettings sync = fast_settings();
        std::chrono::milliseconds rollout_timeout{5'000};
        std::shared_ptr<AlertSender> alerts;
        SyncWorker::Runner runner;   // empty: the real SyncRunner against the fake
        bool start_fake = true;
        // [rollout] allowed_base_urls given to TeamRollout; nullopt: the fake's own (plain http) origin.
        std::optional<std::vector<std::string>> allowed_base_urls;
        std::size_t max_concurrent_per_host = 16;   // [rollout] max_concurrent_per_host
        std::chrono::milliseconds fake_latency{0};  // added by the fake to every Rollout answer
        // Another instance on that harness's database (same master key): a second storage connection, worker and
        // io_context. Meaningful on PostgreSQL; keep the other harness alive longer than this one.
        const Harness* share_database_of = nullptr;
        // The per-team Rollout rate gate, as `serve` wires it; nullopt: no gate (most tests count requests).
        std::optional<RolloutRateSettings> rollout_rate;
    };
    explicit Harness(Options options);
    Harness() : Harness(Options{}) {}
    ~Harness();

    // Runs `f(storage)` on the storage thread and returns its result.
    template <class F>
    auto on_storage(F f) {
        using R = std::invoke_result_t<F, storage::Storage&>;
        auto promise = std::make_shared<std::promise<R>>();
        auto future = promise->get_future();
        storage_->post([promise, f = std::move(f)](storage::Storage& s) mutable { promise->set_value(f(s)); });
        return future.get();
    }

    // A team with Rollout configured against the fake and `crms` connected; returns its tenant id.
    std::string add_team(const std::string& name, const std::vector<std::string>& crms = {"highlevel"});
    // The fake's credential id of a team's CRM.
    const std::string& credential(const std::string& tenant, const std::string& crm) const;

    // Enqueues one tour job per CRM; returns the job ids.
    std::vector<std::string> enqueue_tour(const std::string& tenant, const boost::json::object& tour,
                                          const std::vector<std::string>& crms = {"highlevel"},
                                          std::optional<std::string> idempotency_key = std::nullopt);
    storage::SyncJobInfo job(const std::string& tenant, const std::string& id);
    // Polls until the job is succeeded, failed or dead (or the timeout passes); returns it.
    storage::SyncJobInfo wait_finished(const std::string& tenant, const std::string& id,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

    fake::FakeRollout& fake() { return *fake_; }
    TeamRollout& team() { return *team_; }
    RolloutRateGate* gate() { return gate_.get(); }   // null without Options::rollout_rate
    SyncWorker& worker() { return *worker_; }
    StorageExecutor& storage() { return *storage_; }
    boost::asio::io_context& io() { return io_; }
    const std::filesystem::path& dir() const { return dir_.path(); }
    const rollout_mcp::test::TestDatabase& database() const { return database_; }
    void start();   // starts the worker (the constructor does not)

private:
    Options options_;
    std::string master_key_ = std::string(32, '\0');   // random; shared with share_database_of's harnesses
    rollout_mcp::test::TempDir dir_;
    rollout_mcp::test::TestDatabase database_{dir_.path() / "db.sqlite"};   // SQLite, or a PostgreSQL schema
    std::unique_ptr<fake::FakeRollout> fake_;
    std::unique_ptr<StorageExecutor> storage_;
    boost::asio::io_context io_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
    std::vector<std::thread> threads_;
    std::shared_ptr<rollout::HttpPool> pool_;
    std::unique_ptr<TeamRollout> team_;
    std::shared_ptr<RolloutRateGate> gate_;
    std::unique_ptr<SyncRunner> runner_;
    std::unique_ptr<SyncWorker> worker_;
    std::map<std::string, std::string> credentials_;   // tenant + "/" + crm -> credential id
};

// Runs a registered tool's handler for `tenant` on the harness's io_context and returns its result
// (arguments validated against the tool's schema first, as the server does; a schema error throws).
boost::json::object call_tool(Harness& h, const ToolRegistry& tools, const std::string& tenant,
                              const std::string& name, const boost::json::object& args, const CallInfo& info = {});

// A tour with `visits` properties for buyer `buyer` (email <buyer>@example.com).
boost::json::object make_tour(const std::string& tour_id, const std::string& buyer, int visits = 2);

}  // namespace rollout_mcp::sync_test
