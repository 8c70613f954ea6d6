// Metric families and per-call logs.
#include "server/app/observability.hpp"

#include "server/app/log.hpp"

#include <openssl/rand.h>

#include <algorithm>

namespace rollout_mcp::observe {

metrics::Family<metrics::Counter>& http_requests() {
    static auto& f = metrics::registry().counter("rollout_mcp_http_requests_total", "HTTP requests by method, path and status",
                                                 {"method", "path", "status"});
    return f;
}

metrics::Family<metrics::Counter>& tool_calls() {
    static auto& f = metrics::registry().counter("rollout_mcp_tool_calls_total", "MCP tool calls by tool and outcome",
                                                 {"tool", "outcome"});
    return f;
}

metrics::Family<metrics::Counter>& paced_requests() {
    static auto& f = metrics::registry().counter("rollout_mcp_paced_requests_total",
                                                 "/mcp requests over their team's rate: waited their turn or refused with 429",
                                                 {"outcome"});
    return f;
}

metrics::Family<metrics::Histogram>& tool_seconds() {
    static auto& f = metrics::registry().histogram("rollout_mcp_tool_call_duration_seconds",
                                                   "MCP tool call latency in seconds", {"tool"},
                                                   {0.001, 0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30});
    return f;
}

metrics::Family<metrics::Gauge>& sse_streams() {
    static auto& f = metrics::registry().gauge("rollout_mcp_sse_streams", "SSE responses currently open");
    return f;
}

void tool_finished(const std::string& tool, const std::string& outcome, std::chrono::steady_clock::time_point start,
                   const std::string& tenant, const std::string& session, const std::string& traceparent) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    tool_calls().with({tool, outcome}).inc();
    tool_seconds().with({tool}).observe(seconds);
    const auto level = outcome == "failed" ? log::Level::error : log::Level::info;
    if (!log::enabled(level)) return;
    if (traceparent.empty())
        log::write(level, "tool call", {{"tool", tool}, {"outcome", outcome}, {"duration_us", static_cast<std::int64_t>(seconds * 1e6)},
                                        {"tenant", tenant}, {"session", session}});
    else   // validated W3C syntax (server/mcp/trace_context.hpp): safe to log
        log::write(level, "tool call", {{"tool", tool}, {"outcome", outcome}, {"duration_us", static_cast<std::int64_t>(seconds * 1e6)},
                                        {"tenant", tenant}, {"session", session}, {"traceparent", traceparent}});
}

std::string request_id(std::string_view offered) {
    if (!offered.empty() && offered.size() <= 64 &&
        std::all_of(offered.begin(), offered.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
        return std::string(offered);
    unsigned char bytes[8];
    RAND_bytes(bytes, sizeof bytes);
    static constexpr char hex[] = "0123456789abcdef";
    std::string id;
    for (auto b : bytes) {
        id += hex[b >> 4];
        id += hex[b & 0xf];
    }
    return id;
}

}  // namespace rollout_mcp::observe
