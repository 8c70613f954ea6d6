// The server's metric families and per-call accounting, shared by the HTTP layer and MCP dispatch.
#pragma once

#include "server/app/metrics.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <string>

namespace rollout_mcp::observe {

metrics::Family<metrics::Counter>& http_requests();     // {method, path, status}
metrics::Family<metrics::Counter>& tool_calls();        // {tool, outcome}
metrics::Family<metrics::Counter>& paced_requests();    // {outcome} over the team's rate: waited, refused
metrics::Family<metrics::Histogram>& tool_seconds();    // {tool}
metrics::Family<metrics::Gauge>& sse_streams();         // {} open SSE responses

// A finished tools/call: counts it, times it and writes one log line (tenant, session, tool, outcome, ms, and the
// request's validated traceparent when it sent one). Outcomes: ok, tool_error, invalid_arguments, cancelled,
// failed, refused (a JSON-RPC error from the handler), task (answered with a task).
void tool_finished(const std::string& tool, const std::string& outcome, std::chrono::steady_clock::time_point start,
                   const std::string& tenant, const std::string& session, const std::string& traceparent = {});

// X-Request-Id: the client's when it is short visible ASCII, else 16 random hex characters.
std::string request_id(std::string_view offered);

}  // namespace rollout_mcp::observe
