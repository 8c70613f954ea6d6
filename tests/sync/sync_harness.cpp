// The outbox test harness (see sync_harness.hpp).
#include "sync_harness.hpp"

#include "server/app/origin.hpp"

#include "rollout/adapters/adapter.hpp"
#include "rollout/model.hpp"
#include "storage/sql_storage.hpp"
#include "support/wait_for.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/serialize.hpp>
#include <sodium.h>

#include <stdexcept>

namespace rollout_mcp::sync_test {
namespace json = boost::json;

SyncSettings fast_settings() {
    SyncSettings s;
    s.wait = std::chrono::milliseconds(5'000);
    s.backoff_base = std::chrono::milliseconds(20);
    s.backoff_max = std::chrono::milliseconds(200);
    s.poll = std::chrono::milliseconds(50);
    s.lease = std::chrono::milliseconds(60'000);
    return s;
}

Harness::Harness(Options options) : options_(std::move(options)) {
    if (options_.start_fake) {
        fake::Options fo;
        fo.latency = options_.fake_latency;
        fo.client_secret = "sync-test-secret";
        fake_ = std::make_unique<fake::FakeRollout>(fo);
        fake_->start();
    }
    const Harness* shared = options_.share_database_of;
    if (shared) master_key_ = shared->master_key_;
    else randombytes_buf(master_key_.data(), master_key_.size());
    crypto::MasterKey master{crypto::SecretBytes::copy_of(std::string_view(master_key_)), "test master key", {}};
    storage_ = std::make_unique<StorageExecutor>((shared ? shared->database_ : database_).open(std::move(master)));
    guard_.emplace(io_.get_executor());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
    rollout::HttpOptions http;
    http.timeout = options_.rollout_timeout;
    http.max_concurrent_per_host = options_.max_concurrent_per_host;
    // The fake Rollout listens on loopback, which teams may reach only when the operator lists it.
    if (fake_) http.allowed_origins.push_back(rollout::origin_of(fake_->url()).value());
    pool_ = rollout::HttpPool::create(http);
    std::vector<std::string> allowed;
    if (options_.allowed_base_urls) allowed = *options_.allowed_base_urls;
    else if (fake_) allowed = {*normalize_origin(fake_->url())};
    team_ = std::make_unique<TeamRollout>(*storage_, pool_, std::move(allowed));
    if (options_.rollout_rate) {
        gate_ = RolloutRateGate::create(io_.get_executor(), *storage_, *options_.rollout_rate);
        team_->set_request_gate(gate_);
    }
    runner_ = std::make_unique<SyncRunner>(*team_);
    auto runner = options_.runner;
    if (!runner) runner = [r = runner_.get()](const storage::ClaimedJob& job) { return r->run(job); };
    worker_ = std::make_unique<SyncWorker>(*storage_, options_.sync, std::move(runner), options_.alerts);
}

Harness::~Harness() {
    worker_->stop();
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    worker_->release_io();
    pool_->close_idle();
    storage_->stop();
    if (fake_) fake_->stop();
}

void Harness::start() { worker_->start(io_.get_executor()); }

std::string Harness::add_team(const std::string& name, const std::vector<std::string>& crms) {
    auto tenant = on_storage([name](storage::Storage& s) { return s.create_tenant(name); });
    if (!tenant) throw std::runtime_error(tenant.error().message);
    const std::string id = tenant->id;
    if (!fake_) return id;
    RolloutSettings settings;
    settings.project_env_key = "sync-test";
    settings.client_id = "sync-test-client";
    settings.endpoints.platform = fake_->platform_url();
    settings.endpoints.crm = fake_->crm_url();
    settings.endpoints.automation = fake_->automation_url();
    const std::string text = json::serialize(settings.to_json());
    auto put = on_storage([id, text](storage::Storage& s) {
        const std::string secret = "sync-test-secret";
        return s.put_rollout_config(id, text, {reinterpret_cast<const unsigned char*>(secret.data()), secret.size()});
    });
    if (!put) throw std::runtime_error(put.error().message);
    for (const auto& crm : crms) {
        const std::string cred(fake_->add_credential(crm, id).at("id").as_string());
        credentials_[id + "/" + crm] = cred;
        auto conn = on_storage([id, crm, cred](storage::Storage& s) {
            return s.put_crm_connection(id, crm, crm, {reinterpret_cast<const unsigned char*>(cred.data()), cred.size()});
        });
        if (!conn) throw std::runtime_error(conn.error().message);
    }
    return id;
}

const std::string& Harness::credential(const std::string& tenant, const std::string& crm) const {
    return credentials_.at(tenant + "/" + crm);
}

std::vector<std::string> Harness::enqueue_tour(const std::string& tenant, const json::object& tour,
                                               const std::vector<std::string>& crms,
                                               std::optional<std::string> idempotency_key) {
    storage::SyncRequest request;
    request.tenant_id = tenant;
    if (idempotency_key) {
        request.idempotency_key = idempotency_key;
        request.args_hash.assign(32, 7);
    }
    const std::string tour_id(tour.at("tourId").as_string());
    std::optional<std::string> buyer;
    if (const auto* b = tour.if_contains("buyerId")) buyer = std::string(b->as_string());
    for (const auto& crm : crms)
        request.jobs.push_back({crm, "tour", tour_id, tour_id, rollout::buyer_local_id(buyer, tour_id), json::serialize(tour)});
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    auto r = on_storage([request, now](storage::Storage& s) { return s.enqueue_sync(request, now); });
    if (!r) throw std::runtime_error(r.error().message);
    worker_->wake();
    return r->job_ids;
}

storage::SyncJobInfo Harness::job(const std::string& tenant, const std::string& id) {
    auto found = on_storage([tenant, id](storage::Storage& s) {
        storage::SyncJobQuery q;
        q.tenant_id = tenant;
        q.job_id = id;
        return s.find_sync_jobs(q);
    });
    if (!found || found->empty()) throw std::runtime_error("no job " + id);
    return found->front();
}

storage::SyncJobInfo Harness::wait_finished(const std::string& tenant, const std::string& id,
                                            std::chrono::milliseconds timeout) {
    storage::SyncJobInfo j;
    test::wait_for(
        [&] {
            j = job(tenant, id);
            return j.status == storage::JobStatus::succeeded || j.status == storage::JobStatus::failed ||
                   j.status == storage::JobStatus::dead;
        },
        timeout, std::chrono::milliseconds(20));
    return j;   // the last state read: the caller's assertions say what was expected
}

namespace {
class TestToolContext final : public ToolContext {
public:
    TestToolContext(std::string tenant, CallInfo info) : tenant_(std::move(tenant)), info_(std::move(info)) {}
    const std::string& tenant() const override { return tenant_; }
    const CallInfo& call() const override { return info_; }
    mcp::Revision revision() const override { return mcp::kLatestSessionRevision; }
    void progress(double, std::optional<double>, std::string_view) override {}
    void log(mcp::LogLevel, json::value) override {}
    void end_sse_connection() override {}

private:
    std::string tenant_;
    CallInfo info_;
};
}  // namespace

json::object call_tool(Harness& h, const ToolRegistry& tools, const std::string& tenant, const std::string& name,
                       const json::object& args, const CallInfo& info) {
    const ToolDefinition* tool = tools.find(name);
    if (!tool) throw std::runtime_error("no tool " + name);
    if (auto problem = tools.validate_arguments(*tool, args)) throw std::runtime_error(name + ": " + *problem);
    auto ctx = std::make_shared<TestToolContext>(tenant, info);
    auto done = std::make_shared<std::promise<json::object>>();
    auto future = done->get_future();
    boost::asio::co_spawn(
        h.io(),
        [tool, ctx, args, done]() -> boost::asio::awaitable<void> {
            try {
                done->set_value(co_await tool->handler(*ctx, args));
            } catch (...) {
                done->set_exception(std::current_exception());
            }
        },
        boost::asio::detached);
    return future.get();
}

json::object make_tour(const std::string& tour_id, const std::string& buyer, int visits) {
    json::array properties;
    for (int i = 1; i <= visits; ++i)
        properties.push_back(json::object{{"propertyId", "P" + std::to_string(i)},
                                          {"address", std::to_string(i) + " Main St, Austin TX"},
                                          {"visitTime", "2026-12-01T1" + std::to_string(i % 10) + ":00:00-06:00"}});
    return json::object{{"tourId", tour_id},
                        {"agentId", "agent-1"},
                        {"buyerId", buyer},
                        {"buyer", json::object{{"name", "Buyer " + buyer}, {"email", buyer + "@example.com"}}},
                        {"properties", std::move(properties)}};
}

}  // namespace rollout_mcp::sync_test
