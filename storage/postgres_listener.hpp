// Wakes this instance when another one changes the shared outbox (docs/ARCHITECTURE.md, "Several instances"): one
// libpq connection that LISTENs on the outbox's channels, on a thread of its own (never an I/O thread), waiting in
// poll() on the connection's socket. Payloads carry ids only. When the connection breaks it reconnects with a
// growing pause and reports a gap (channel ""): a notification may have been missed, so look again.
//
// The channels, written by SqlStorage inside the transactions that cause them (delivered at commit):
//   rollout_mcp_jobs_queued    payload: job ids, comma-separated (enqueue, retry)
//   rollout_mcp_job_attempt    payload: job ids, comma-separated: a job's state changed other than by a claim (an
//                              attempt recorded: finished, retried or given up; tasks/cancel; a claim that failed
//                              the job because its payload does not open)
//   rollout_mcp_tools_changed  payload: the sending instance's random id (Storage::notify_instances): the tool list
//                              changed; every other instance tells its subscriptions/listen streams
//   rollout_mcp_session_ended  payload: hashes of 2025 MCP session ids (storage/mcp_sessions.hpp), comma-separated
//                              (DELETE on any instance, or idle expiry): every instance stops serving them
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace rollout_mcp::storage {

inline constexpr std::string_view kJobsQueuedChannel = "rollout_mcp_jobs_queued";
inline constexpr std::string_view kJobAttemptChannel = "rollout_mcp_job_attempt";
inline constexpr std::string_view kToolsChangedChannel = "rollout_mcp_tools_changed";
inline constexpr std::string_view kSessionEndedChannel = "rollout_mcp_session_ended";

class PgListener {
public:
    // Called on the listener's thread: keep it short (post the work elsewhere).
    using Callback = std::function<void(std::string_view channel, std::string_view payload)>;

    // Connects and starts listening; throws SqlError when the first connection fails.
    static std::unique_ptr<PgListener> start(const std::string& url, Callback callback);
    ~PgListener();   // stops the thread
    PgListener(const PgListener&) = delete;
    PgListener& operator=(const PgListener&) = delete;

private:
    struct State;
    explicit PgListener(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace rollout_mcp::storage
