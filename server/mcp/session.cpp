// Session state and the in-memory session store.
#include "server/mcp/session.hpp"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace rollout_mcp::mcp {

namespace {
constexpr std::string_view kLevelNames[] = {"debug", "info", "notice", "warning",
                                            "error", "critical", "alert", "emergency"};
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
    for (std::size_t i = 0; i < std::size(kLevelNames); ++i)
        if (kLevelNames[i] == text) return static_cast<LogLevel>(i);
    return std::nullopt;
}

std::string_view to_string(LogLevel level) { return kLevelNames[static_cast<std::size_t>(level)]; }

Session::Session(std::string id, std::string tenant, Revision revision, SessionLimits limits, ClockFn clock,
                 LevelObserver level_observer)
    : id_(std::move(id)), tenant_(std::move(tenant)), revision_(revision), limits_(limits), now_(std::move(clock)),
      level_observer_(std::move(level_observer)) {
    touch();
}

Session::Clock::time_point Session::last_active() const {
    return Clock::time_point(Clock::duration(last_active_.load(std::memory_order_relaxed)));
}

std::shared_ptr<EventStream> Session::open_post_stream() {
    std::lock_guard lock(mu_);
    auto stream = std::make_shared<EventStream>(next_stream_++, false, limits_.replay_events_per_stream,
                                                limits_.replay_buffer_bytes);
    if (closed_) {
        stream->close();
        return stream;
    }
    streams_.emplace(stream->number(), stream);
    // Oldest first (map order); live streams are bounded by max_pending_requests, which validation keeps
    // below max_streams, so a finished one is always found.
    for (auto it = streams_.begin(); streams_.size() > limits_.max_streams && it != streams_.end();) {
        const auto& s = it->second;
        if (!s->standalone() && s->finished() && !s->attached()) it = streams_.erase(it);
        else ++it;
    }
    return stream;
}

std::shared_ptr<EventStream> Session::standalone_stream() {
    std::lock_guard lock(mu_);
    auto& slot = streams_[0];
    if (!slot)
        slot = std::make_shared<EventStream>(0, true, limits_.replay_events_per_stream, limits_.replay_buffer_bytes);
    if (closed_) slot->close();
    return slot;
}

std::shared_ptr<EventStream> Session::find_stream(std::uint32_t number) const {
    std::lock_guard lock(mu_);
    auto it = streams_.find(number);
    return it == streams_.end() ? nullptr : it->second;
}

Session::AddRequest Session::add_in_flight(const std::string& id_key, std::function<void()> cancel) {
    std::lock_guard lock(mu_);
    if (in_flight_.size() >= limits_.max_pending_requests) return AddRequest::too_many;
    if (!in_flight_.emplace(id_key, std::move(cancel)).second) return AddRequest::duplicate_id;
    return AddRequest::ok;
}

void Session::remove_in_flight(const std::string& id_key) {
    std::lock_guard lock(mu_);
    in_flight_.erase(id_key);
}

bool Session::cancel_in_flight(const std::string& id_key) {
    std::function<void()> cancel;
    {
        std::lock_guard lock(mu_);
        auto it = in_flight_.find(id_key);
        if (it == in_flight_.end()) return false;
        cancel = std::move(it->second);
        in_flight_.erase(it);
    }
    if (cancel) cancel();
    return true;
}

void Session::close() {
    std::vector<std::function<void()>> cancels;
    std::vector<std::shared_ptr<EventStream>> streams;
    {
        std::lock_guard lock(mu_);
        if (closed_) return;
        closed_ = true;
        for (auto& [key, cancel] : in_flight_) cancels.push_back(std::move(cancel));
        in_flight_.clear();
        for (auto& [n, s] : streams_) streams.push_back(s);
        streams_.clear();
    }
    for (auto& cancel : cancels)
        if (cancel) cancel();
    for (auto& s : streams) s->close();
}

bool Session::closed() const {
    std::lock_guard lock(mu_);
    return closed_;
}

void Session::trim(Clock::time_point now, std::chrono::seconds retention) {
    std::lock_guard lock(mu_);
    std::size_t total = 0;
    for (auto& [n, s] : streams_) total += s->bytes();
    for (auto it = streams_.begin(); it != streams_.end();) {
        const auto& s = it->second;
        const bool removable = !s->standalone() && s->finished() && !s->attached();
        if (removable && (now - s->finished_at() > retention || total > limits_.replay_buffer_bytes)) {
            total -= s->bytes();
            it = streams_.erase(it);
        } else {
            ++it;
        }
    }
}

void Session::end_idle_streams() {
    std::vector<std::shared_ptr<EventStream>> idle;
    {
        std::lock_guard lock(mu_);
        for (const auto& [n, s] : streams_)
            if (s->standalone() || s->cancelled()) idle.push_back(s);
    }
    for (auto& s : idle) s->close();
}

bool Session::has_attached_stream() const {
    std::lock_guard lock(mu_);
    for (const auto& [n, s] : streams_)
        if (s->attached()) return true;
    return false;
}

std::size_t Session::stream_count() const {
    std::lock_guard lock(mu_);
    return streams_.size();
}

std::string random_session_id() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("CSPRNG failure");
    static constexpr char hex[] = "0123456789abcdef";
    std::string id(32, '0');
    for (std::size_t i = 0; i < sizeof bytes; ++i) {
        id[2 * i] = hex[bytes[i] >> 4];
        id[2 * i + 1] = hex[bytes[i] & 0xf];
    }
    return id;
}

namespace {

class InMemorySessionStore final : public LocalSessionStore {
public:
    explicit InMemorySessionStore(SessionStoreSettings settings) : settings_(std::move(settings)) {}

    std::shared_ptr<Session> create(std::string tenant, Revision revision) override {
        return insert(random_session_id(), std::move(tenant), revision, nullptr);
    }

    std::shared_ptr<Session> adopt(std::string id, std::string tenant, Revision revision, LogLevel level) override {
        return insert(std::move(id), std::move(tenant), revision, &level);
    }

    std::shared_ptr<Session> find(std::string_view id, std::string_view tenant) override {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(std::string(id));
        if (it == sessions_.end() || it->second->tenant() != tenant) return nullptr;
        return it->second;
    }

    bool remove(std::string_view id, std::string_view tenant) override {
        std::shared_ptr<Session> session;
        {
            std::lock_guard lock(mu_);
            auto it = sessions_.find(std::string(id));
            if (it == sessions_.end() || it->second->tenant() != tenant) return false;
            session = std::move(it->second);
            sessions_.erase(it);
            forget_locked(session->tenant());
        }
        session->close();
        return true;
    }

    std::size_t size() const override {
        std::lock_guard lock(mu_);
        return sessions_.size();
    }

    std::size_t sweep() override {
        const auto now = settings_.clock();
        std::vector<std::shared_ptr<Session>> expired, live;
        {
            std::lock_guard lock(mu_);
            for (auto it = sessions_.begin(); it != sessions_.end();) {
                auto& s = it->second;
                if (now - s->last_active() > settings_.idle_timeout && !s->has_attached_stream()) {
                    forget_locked(s->tenant());
                    expired.push_back(std::move(s));
                    it = sessions_.erase(it);
                } else {
                    live.push_back(s);
                    ++it;
                }
            }
        }
        for (auto& s : expired) s->close();
        for (auto& s : live) s->trim(now, settings_.stream_retention);
        return expired.size();
    }

    void end_standalone_streams() override {
        std::vector<std::shared_ptr<Session>> all;
        {
            std::lock_guard lock(mu_);
            for (auto& [id, s] : sessions_) all.push_back(s);
        }
        for (auto& s : all) s->end_idle_streams();
    }

    void close_all() override {
        std::unordered_map<std::string, std::shared_ptr<Session>> all;
        {
            std::lock_guard lock(mu_);
            all.swap(sessions_);
            per_tenant_.clear();
        }
        for (auto& [id, s] : all) s->close();
    }

private:
    // Check and insert under one lock, so concurrent initialize calls cannot overshoot the cap. An adopted id
    // already here is returned as it is (its tenant's only).
    std::shared_ptr<Session> insert(std::string id, std::string tenant, Revision revision, const LogLevel* level) {
        auto session = std::make_shared<Session>(std::move(id), std::move(tenant), revision, settings_.limits,
                                                 settings_.clock, settings_.level_observer);
        if (level) session->restore_log_level(*level);
        std::lock_guard lock(mu_);
        if (auto it = sessions_.find(session->id()); it != sessions_.end())
            return level && it->second->tenant() == session->tenant() ? it->second : nullptr;
        auto& per_tenant = per_tenant_[session->tenant()];
        if (sessions_.size() >= settings_.max_sessions || per_tenant >= settings_.max_sessions_per_tenant) {
            if (per_tenant == 0) per_tenant_.erase(session->tenant());
            return nullptr;
        }
        ++per_tenant;
        sessions_.emplace(session->id(), session);
        return session;
    }

    void forget_locked(const std::string& tenant) {
        auto it = per_tenant_.find(tenant);
        if (it != per_tenant_.end() && --it->second == 0) per_tenant_.erase(it);
    }

    const SessionStoreSettings settings_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<Session>> sessions_;
    std::unordered_map<std::string, std::size_t> per_tenant_;
};

}  // namespace

std::unique_ptr<LocalSessionStore> make_in_memory_session_store(SessionStoreSettings settings) {
    return std::make_unique<InMemorySessionStore>(std::move(settings));
}

boost::asio::awaitable<SessionLookup> SessionStore::open(std::string_view tenant, Revision revision) {
    auto session = create(std::string(tenant), revision);
    const auto miss = session ? SessionLookup::Miss::none : SessionLookup::Miss::full;
    co_return SessionLookup{std::move(session), miss};
}

boost::asio::awaitable<SessionLookup> SessionStore::lookup(std::string_view id, std::string_view tenant) {
    auto session = find(id, tenant);
    const auto miss = session ? SessionLookup::Miss::none : SessionLookup::Miss::unknown;
    co_return SessionLookup{std::move(session), miss};
}

boost::asio::awaitable<bool> SessionStore::end(std::string_view id, std::string_view tenant) {
    co_return remove(id, tenant);
}

}  // namespace rollout_mcp::mcp
