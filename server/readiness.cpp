// Readiness document and gauges from the credential store; Rollout call metrics.
#include "readiness.hpp"

#include "metrics.hpp"

namespace rollout_mcp {
namespace json = boost::json;

void Readiness::update(storage::Storage& storage) {
    auto status = storage.key_status();
    auto& db_up = metrics::registry().gauge("rollout_mcp_database_up", "1 when the credential store answers").with({});
    auto& reseal = metrics::registry()
                       .gauge("rollout_mcp_key_rows_to_reseal", "Sealed rows still under a retired data key (rotation in progress)")
                       .with({});
    json::object state;
    if (status) {
        db_up.set(1);
        reseal.set(static_cast<double>(status->rows_to_reseal));
        state = {{"ready", true},
                 {"database", "ok"},
                 {"keys", json::object{{"masterKeySource", status->master_key_source},
                                       {"activeDataKey", status->active_key_id},
                                       {"rotation", status->rows_to_reseal > 0 ? "in progress" : "idle"},
                                       {"rowsToReseal", status->rows_to_reseal}}}};
    } else {
        db_up.set(0);
        state = {{"ready", false}, {"database", status.error().message}};
    }
    std::lock_guard lock(mu_);
    state_ = std::move(state);
}

void Readiness::refresh_now(storage::Storage& storage) { update(storage); }

void Readiness::refresh(StorageExecutor& storage) {
    storage.post([this](storage::Storage& s) { update(s); });
}

json::object Readiness::state() const {
    std::lock_guard lock(mu_);
    return state_;
}

decltype(rollout::HttpOptions::observer) rollout_call_metrics() {
    auto& calls = metrics::registry().counter("rollout_mcp_rollout_requests_total",
                                              "Calls to Rollout by host and HTTP status (0 = no response)",
                                              {"host", "method", "status"});
    auto& latency = metrics::registry().histogram("rollout_mcp_rollout_request_duration_seconds",
                                                  "Latency of calls to Rollout", {"host"},
                                                  {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
    return [&calls, &latency](boost::beast::http::verb method, const std::string& url, unsigned status,
                              std::chrono::steady_clock::duration elapsed) {
        std::string host = "platform";
        if (url.find("/crm/api") != std::string::npos || url.find("://crm.") != std::string::npos) host = "crm";
        else if (url.find("/automation/api") != std::string::npos || url.find(".rolloutapp.com") != std::string::npos)
            host = "automation";
        calls.with({host, std::string(boost::beast::http::to_string(method)), std::to_string(status)}).inc();
        latency.with({host}).observe(std::chrono::duration<double>(elapsed).count());
    };
}

}  // namespace rollout_mcp
