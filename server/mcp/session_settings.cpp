// Config -> SessionStoreSettings.
#include "server/mcp/session_settings.hpp"

namespace rollout_mcp {

mcp::SessionStoreSettings session_store_settings(const Config& config) {
    mcp::SessionStoreSettings s;
    s.max_sessions = config.mcp.max_sessions;
    s.max_sessions_per_tenant = config.mcp.max_sessions_per_team;
    s.idle_timeout = config.mcp.session_idle_timeout;
    s.stream_retention = config.mcp.stream_retention;
    s.limits.replay_buffer_bytes = config.mcp.replay_buffer_bytes;
    s.limits.replay_events_per_stream = config.mcp.replay_events_per_stream;
    s.limits.max_pending_requests = config.mcp.max_pending_requests;
    s.limits.max_streams = config.mcp.max_streams_per_session;
    return s;
}

}  // namespace rollout_mcp
