// 2025 MCP sessions any instance can serve, when several instances share one PostgreSQL database
// (docs/ARCHITECTURE.md, "Several instances"). `initialize` writes the session's row (team, negotiated revision, log
// level; the id only as a hash) before it answers; a request with an id this instance does not hold reads the row
// on the storage thread and adopts the session locally (same id, team, revision and level; this instance's caps
// apply). DELETE on any instance deletes the row and NOTIFYs its hash, so every instance drops its copy; an
// adoption also checks that no such notification came in meanwhile. Use refreshes the row at most every quarter
// of the idle timeout, and every instance's sweep deletes rows idle past timeout + that quarter, so no instance
// expires a session another one is using. In-flight requests and SSE streams stay with the instance running
// them (README, "Several instances on PostgreSQL": GET streams need routing on Mcp-Session-Id).
#pragma once

#include "server/mcp/session.hpp"
#include "storage/storage_executor.hpp"

#include <memory>
#include <string_view>

namespace rollout_mcp {

class SharedSessionStore final : public mcp::SessionStore {
public:
    SharedSessionStore(mcp::SessionStoreSettings settings, StorageExecutor& storage);
    ~SharedSessionStore() override;
    SharedSessionStore(const SharedSessionStore&) = delete;
    SharedSessionStore& operator=(const SharedSessionStore&) = delete;

    boost::asio::awaitable<mcp::SessionLookup> open(std::string_view tenant, mcp::Revision revision) override;
    boost::asio::awaitable<mcp::SessionLookup> lookup(std::string_view id, std::string_view tenant) override;
    boost::asio::awaitable<bool> end(std::string_view id, std::string_view tenant) override;

    // The synchronous interface sees this instance's copies only; create and remove write the row behind.
    std::shared_ptr<mcp::Session> create(std::string tenant, mcp::Revision revision) override;
    std::shared_ptr<mcp::Session> find(std::string_view id, std::string_view tenant) override;
    bool remove(std::string_view id, std::string_view tenant) override;
    std::size_t size() const override;
    // Expires idle local copies and deletes rows idle everywhere (on the storage thread).
    std::size_t sweep() override;
    void end_standalone_streams() override;
    // Shutdown: the local copies end; the rows stay, so the sessions live on in the other instances.
    void close_all() override;

    // A PostgreSQL notification (storage/postgres_listener.hpp), on the listener's thread: ended sessions stop
    // here; a gap (channel "": notifications may have been lost) makes every local copy re-read its row on its
    // next request.
    void hear(std::string_view channel, std::string_view payload);

private:
    struct Core;
    std::shared_ptr<Core> core_;   // what storage-thread callbacks reach, while it lives
};

}  // namespace rollout_mcp
