// MCP sessions (one per `initialize`) and the store that owns them. The transport reaches session state
// only through SessionStore: the in-memory store here (one process), or the store shared through PostgreSQL
// (server/http/shared_session_store.hpp), whose database calls the endpoint awaits through the async methods.
#pragma once

#include "server/mcp/event_stream.hpp"
#include "server/mcp/protocol.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rollout_mcp::mcp {

enum class LogLevel { debug, info, notice, warning, error, critical, alert, emergency };
std::optional<LogLevel> parse_log_level(std::string_view text);
std::string_view to_string(LogLevel level);

struct SessionLimits {
    std::size_t replay_buffer_bytes = 1024 * 1024;
    std::size_t replay_events_per_stream = 1024;
    std::size_t max_pending_requests = 64;
    // Streams a session keeps (live plus finished ones kept for resumption): opening one more drops the
    // oldest finished stream, so a client issuing many short streaming calls cannot pile them up.
    std::size_t max_streams = 256;
};

class Session {
public:
    using Clock = std::chrono::steady_clock;
    // Where the time comes from: Clock::now in the server, a hand-moved clock in tests.
    using ClockFn = std::function<Clock::time_point()>;
    // Told of every logging/setLevel (a shared store records it), on the request's thread.
    using LevelObserver = std::function<void(const Session&, LogLevel)>;

    Session(std::string id, std::string tenant, Revision revision, SessionLimits limits, ClockFn clock = Clock::now,
            LevelObserver level_observer = {});

    const std::string& id() const { return id_; }
    const std::string& tenant() const { return tenant_; }
    Revision revision() const { return revision_; }

    void touch() { last_active_.store(now_().time_since_epoch().count(), std::memory_order_relaxed); }
    Clock::time_point last_active() const;
    LogLevel log_level() const { return log_level_.load(std::memory_order_relaxed); }
    void set_log_level(LogLevel level) {
        log_level_.store(level, std::memory_order_relaxed);
        if (level_observer_) level_observer_(*this, level);
    }
    // The level a session adopted from another instance had there (no observer call: nothing changed).
    void restore_log_level(LogLevel level) { log_level_.store(level, std::memory_order_relaxed); }

    // A new reply stream for one POST request (numbered from 1).
    std::shared_ptr<EventStream> open_post_stream();
    // The standalone GET stream (number 0), created on first use.
    std::shared_ptr<EventStream> standalone_stream();
    std::shared_ptr<EventStream> find_stream(std::uint32_t number) const;

    enum class AddRequest { ok, duplicate_id, too_many };
    AddRequest add_in_flight(const std::string& id_key, std::function<void()> cancel);
    void remove_in_flight(const std::string& id_key);
    // Runs the request's canceller; false when no such request is in flight.
    bool cancel_in_flight(const std::string& id_key);

    // Cancels everything in flight and ends every stream. Idempotent.
    void close();
    bool closed() const;
    // Drops finished streams past their retention, oldest first while over the replay budget.
    void trim(Clock::time_point now, std::chrono::seconds retention);
    bool has_attached_stream() const;
    // Ends the streams only keep-alives would ever use again: the GET stream and cancelled requests'
    // streams (graceful shutdown must not wait for them).
    void end_idle_streams();
    std::size_t stream_count() const;

private:
    const std::string id_;
    const std::string tenant_;
    const Revision revision_;
    const SessionLimits limits_;
    const ClockFn now_;
    const LevelObserver level_observer_;
    std::atomic<Clock::rep> last_active_;
    std::atomic<LogLevel> log_level_{LogLevel::info};
    mutable std::mutex mu_;
    bool closed_ = false;
    std::uint32_t next_stream_ = 1;
    std::map<std::uint32_t, std::shared_ptr<EventStream>> streams_;
    std::unordered_map<std::string, std::function<void()>> in_flight_;
};

// What an awaited look-up, creation or adoption gives: a session, or why not.
struct SessionLookup {
    enum class Miss { none, unknown, full, unavailable };   // unknown: also another tenant's or an ended session
    std::shared_ptr<Session> session;
    Miss miss = Miss::none;
};

class SessionStore {
public:
    virtual ~SessionStore() = default;
    // What the endpoint awaits (a shared store reaches its database here, off the I/O thread; the in-memory store
    // answers at once). The views must stay alive until the call completes (the awaiting coroutine's locals).
    virtual boost::asio::awaitable<SessionLookup> open(std::string_view tenant, Revision revision);
    virtual boost::asio::awaitable<SessionLookup> lookup(std::string_view id, std::string_view tenant);
    virtual boost::asio::awaitable<bool> end(std::string_view id, std::string_view tenant);

    // nullptr when the store is full.
    virtual std::shared_ptr<Session> create(std::string tenant, Revision revision) = 0;
    // nullptr for an unknown, expired or ended id, and for another tenant's session (indistinguishable).
    virtual std::shared_ptr<Session> find(std::string_view id, std::string_view tenant) = 0;
    virtual bool remove(std::string_view id, std::string_view tenant) = 0;
    virtual std::size_t size() const = 0;
    // Expires idle sessions and trims replay logs; returns how many sessions expired.
    virtual std::size_t sweep() = 0;
    // Ends every standalone GET stream and every cancelled request's stream (first step of a graceful
    // shutdown: nothing will ever be written to them, so they must not hold the shutdown up).
    virtual void end_standalone_streams() = 0;
    virtual void close_all() = 0;
};

struct SessionStoreSettings {
    std::size_t max_sessions = 10'000;
    std::size_t max_sessions_per_tenant = 1'000;
    std::chrono::seconds idle_timeout{1800};
    std::chrono::seconds stream_retention{300};
    SessionLimits limits;
    Session::ClockFn clock = Session::Clock::now;   // for expiry; tests move their own
    Session::LevelObserver level_observer;           // given to every session the store makes
};

// The in-memory store, and what a shared store builds on it: adopting a session another instance created.
class LocalSessionStore : public SessionStore {
public:
    // The session `id` of `tenant` as another instance negotiated it: the one already here if there is one (nullptr
    // when it is another tenant's), a new local copy otherwise (nullptr when this instance's caps are reached).
    virtual std::shared_ptr<Session> adopt(std::string id, std::string tenant, Revision revision, LogLevel level) = 0;
};

std::unique_ptr<LocalSessionStore> make_in_memory_session_store(SessionStoreSettings settings);

// 32 lowercase hex characters from a CSPRNG.
std::string random_session_id();

}  // namespace rollout_mcp::mcp
