// The session store shared through PostgreSQL (see shared_session_store.hpp).
#include "server/http/shared_session_store.hpp"

#include "server/app/log.hpp"
#include "storage/postgres_listener.hpp"

#include <chrono>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace rollout_mcp {
namespace asio = boost::asio;
using Miss = mcp::SessionLookup::Miss;

namespace {

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

constexpr std::size_t kEndedRemembered = 10'000;
constexpr std::chrono::seconds kEndedKept{60};

}  // namespace

struct SharedSessionStore::Core {
    using Clock = std::chrono::steady_clock;
    struct Entry {
        std::string tenant;
        std::string hash;
        Clock::time_point written;   // when this instance last wrote last_active
        std::uint64_t checked = 0;   // the notification generation its row was last read or written in
    };

    Core(StorageExecutor& s, std::chrono::milliseconds idle)
        : storage(s), idle_timeout(idle), touch_every(std::max<std::chrono::milliseconds>(idle / 4, std::chrono::milliseconds(1))) {}

    StorageExecutor& storage;
    const std::chrono::milliseconds idle_timeout;
    const std::chrono::milliseconds touch_every;
    std::unique_ptr<mcp::LocalSessionStore> local;
    std::mutex mu;
    std::unordered_map<std::string, Entry> entries;        // session id -> what the row side needs
    std::unordered_map<std::string, std::string> by_hash;  // id hash -> session id
    std::unordered_set<std::string> ended;                 // hashes heard ended lately, and when
    std::deque<std::pair<std::string, Clock::time_point>> ended_order;
    std::uint64_t generation = 0;   // + 1 on every gap in notifications
    bool sweeping = false;

    // Rows last active before this are expired: idle past the timeout, plus the lag of a touch not yet written.
    std::int64_t live_after_ms() const { return unix_ms() - (idle_timeout + touch_every).count(); }

    // Records a row this instance has just read or written; false when the session was heard ended meanwhile.
    bool admit(const std::string& id, const std::string& tenant, const std::string& hash, std::uint64_t gen, bool written) {
        std::lock_guard lock(mu);
        if (ended.contains(hash)) return false;
        auto& e = entries[id];
        e.tenant = tenant;
        e.hash = hash;
        e.checked = gen;
        if (written) e.written = Clock::now();
        by_hash[hash] = id;
        return true;
    }

    bool verified(const std::string& id) {
        std::lock_guard lock(mu);
        auto it = entries.find(id);
        return it != entries.end() && it->second.checked == generation;
    }

    std::uint64_t current_generation() {
        std::lock_guard lock(mu);
        return generation;
    }

    bool was_ended(const std::string& hash) {
        std::lock_guard lock(mu);
        return ended.contains(hash);
    }

    void mark_ended_locked(const std::string& hash) {
        const auto now = Clock::now();
        if (ended.insert(hash).second) ended_order.emplace_back(hash, now);
        while (!ended_order.empty() && (ended_order.size() > kEndedRemembered || now - ended_order.front().second > kEndedKept)) {
            ended.erase(ended_order.front().first);
            ended_order.pop_front();
        }
    }

    // Drops this instance's copy (its requests are cancelled, its streams end).
    void end_locally(const std::string& id, const std::string& tenant) {
        {
            std::lock_guard lock(mu);
            if (auto it = entries.find(id); it != entries.end()) {
                by_hash.erase(it->second.hash);
                entries.erase(it);
            }
        }
        local->remove(id, tenant);
    }

    // A request used the session here: refresh its row if the last write is a quarter of the timeout old.
    void used(const std::shared_ptr<Core>& self, const std::string& id) {
        std::string tenant;
        {
            std::lock_guard lock(mu);
            auto it = entries.find(id);
            if (it == entries.end() || Clock::now() - it->second.written < touch_every) return;
            it->second.written = Clock::now();
            tenant = it->second.tenant;
        }
        std::weak_ptr<Core> weak = self;
        storage.post([weak, id, tenant, now = unix_ms()](storage::Storage& s) {
            auto r = s.touch_mcp_session(id, tenant, now);
            if (r) return;
            if (r.error().code != storage::ErrorCode::not_found) {
                log::warning("cannot refresh an MCP session's last activity", {{"error", r.error().message}});
                return;
            }
            if (auto core = weak.lock()) core->end_locally(id, tenant);   // ended elsewhere; the notice was missed
        });
    }
};

SharedSessionStore::SharedSessionStore(mcp::SessionStoreSettings settings, StorageExecutor& storage)
    : core_(std::make_shared<Core>(storage, settings.idle_timeout)) {
    std::weak_ptr<Core> weak = core_;
    // logging/setLevel is recorded in the row, so an instance adopting the session later starts at that level.
    settings.level_observer = [weak](const mcp::Session& session, mcp::LogLevel level) {
        auto core = weak.lock();
        if (!core) return;
        core->storage.post([id = session.id(), tenant = session.tenant(), name = std::string(mcp::to_string(level))](
                               storage::Storage& s) {
            auto r = s.set_mcp_session_log_level(id, tenant, name);
            if (!r && r.error().code != storage::ErrorCode::not_found)
                log::warning("cannot record an MCP session's log level", {{"error", r.error().message}});
        });
    };
    core_->local = mcp::make_in_memory_session_store(std::move(settings));
}

SharedSessionStore::~SharedSessionStore() = default;

asio::awaitable<mcp::SessionLookup> SharedSessionStore::open(std::string_view tenant, mcp::Revision revision) {
    auto core = core_;
    auto session = core->local->create(std::string(tenant), revision);
    if (!session) co_return mcp::SessionLookup{nullptr, Miss::full};
    const std::string id = session->id();
    const std::string team(tenant);
    const std::uint64_t gen = core->current_generation();
    const std::int64_t now = unix_ms();
    const storage::McpSessionRecord record{team, std::string(mcp::to_string(revision)),
                                           std::string(mcp::to_string(session->log_level())), now, now};
    auto written = co_await core->storage.call_in(team, &storage::Storage::create_mcp_session, id, record);
    if (!written) {
        core->local->remove(id, team);
        log::warning("cannot record a new MCP session", {{"error", written.error().message}});
        co_return mcp::SessionLookup{nullptr, Miss::unavailable};
    }
    core->admit(id, team, storage::mcp_session_id_hash(id), gen, true);
    co_return mcp::SessionLookup{std::move(session), Miss::none};
}

asio::awaitable<mcp::SessionLookup> SharedSessionStore::lookup(std::string_view id, std::string_view tenant) {
    auto core = core_;
    const std::string sid(id);
    const std::string team(tenant);
    auto here = core->local->find(sid, team);
    if (here && core->verified(sid)) {
        core->used(core, sid);
        co_return mcp::SessionLookup{std::move(here), Miss::none};
    }
    // Not held here (or not re-read since a gap in notifications): the row decides, read off the I/O thread.
    const std::string hash = storage::mcp_session_id_hash(sid);
    const std::uint64_t gen = core->current_generation();
    const std::int64_t live_after = core->live_after_ms();
    if (core->was_ended(hash)) {
        if (here) core->end_locally(sid, team);
        co_return mcp::SessionLookup{nullptr, Miss::unknown};
    }
    auto row = co_await core->storage.call_in(team, &storage::Storage::find_mcp_session, sid, team, live_after);
    if (!row) {
        if (row.error().code != storage::ErrorCode::not_found) {
            log::warning("cannot read an MCP session", {{"error", row.error().message}});
            co_return mcp::SessionLookup{nullptr, Miss::unavailable};
        }
        if (here) core->end_locally(sid, team);
        co_return mcp::SessionLookup{nullptr, Miss::unknown};
    }
    const auto revision = mcp::parse_revision(row->revision);
    if (!revision || !mcp::policy(*revision).sessions) co_return mcp::SessionLookup{nullptr, Miss::unknown};
    const auto level = mcp::parse_log_level(row->log_level).value_or(mcp::LogLevel::info);
    auto session = here ? std::move(here) : core->local->adopt(sid, team, *revision, level);
    if (!session) co_return mcp::SessionLookup{nullptr, Miss::full};
    if (!core->admit(sid, team, hash, gen, false)) {   // DELETEd elsewhere while the row was being read
        core->end_locally(sid, team);
        co_return mcp::SessionLookup{nullptr, Miss::unknown};
    }
    core->used(core, sid);   // an adoption is a use: the row is refreshed now
    co_return mcp::SessionLookup{std::move(session), Miss::none};
}

asio::awaitable<bool> SharedSessionStore::end(std::string_view id, std::string_view tenant) {
    auto core = core_;
    const std::string sid(id);
    const std::string team(tenant);
    auto gone = co_await core->storage.call_in(team, &storage::Storage::delete_mcp_session, sid, team);
    if (!gone && gone.error().code != storage::ErrorCode::not_found) {
        log::warning("cannot delete an MCP session", {{"error", gone.error().message}});
        co_return false;
    }
    {
        std::lock_guard lock(core->mu);
        core->mark_ended_locked(storage::mcp_session_id_hash(sid));
    }
    core->end_locally(sid, team);
    co_return true;
}

std::shared_ptr<mcp::Session> SharedSessionStore::create(std::string tenant, mcp::Revision revision) {
    auto session = core_->local->create(tenant, revision);
    if (!session) return nullptr;
    const std::int64_t now = unix_ms();
    storage::McpSessionRecord record{tenant, std::string(mcp::to_string(revision)),
                                     std::string(mcp::to_string(session->log_level())), now, now};
    core_->admit(session->id(), tenant, storage::mcp_session_id_hash(session->id()), core_->current_generation(), true);
    core_->storage.post([id = session->id(), record = std::move(record)](storage::Storage& s) {
        if (auto r = s.create_mcp_session(id, record); !r)
            log::warning("cannot record a new MCP session", {{"error", r.error().message}});
    });
    return session;
}

std::shared_ptr<mcp::Session> SharedSessionStore::find(std::string_view id, std::string_view tenant) {
    return core_->local->find(id, tenant);
}

bool SharedSessionStore::remove(std::string_view id, std::string_view tenant) {
    if (!core_->local->find(id, tenant)) return false;
    const std::string sid(id);
    const std::string team(tenant);
    core_->end_locally(sid, team);
    core_->storage.post([sid, team](storage::Storage& s) { (void)s.delete_mcp_session(sid, team); });
    return true;
}

std::size_t SharedSessionStore::size() const { return core_->local->size(); }

std::size_t SharedSessionStore::sweep() {
    auto& core = *core_;
    const auto expired = core.local->sweep();
    // A session with a live stream here (the GET stream, a long tool call) is in use even when no request
    // arrives: the local sweep keeps it, so its row must stay fresh too, or another instance's sweep would
    // delete it and its end notice would cut the stream.
    std::vector<std::string> streaming;
    {
        std::lock_guard lock(core.mu);
        for (auto it = core.entries.begin(); it != core.entries.end();) {
            if (auto session = core.local->find(it->first, it->second.tenant)) {
                if (session->has_attached_stream()) streaming.push_back(it->first);
                ++it;
                continue;
            }
            core.by_hash.erase(it->second.hash);
            it = core.entries.erase(it);
        }
    }
    for (const auto& id : streaming) core.used(core_, id);
    {
        std::lock_guard lock(core.mu);
        if (core.sweeping) return expired;
        core.sweeping = true;
    }
    std::weak_ptr<Core> weak = core_;
    core.storage.post([weak, before = core.live_after_ms()](storage::Storage& s) {
        // In batches (each one transaction, its deletions announced): other storage work runs in between.
        for (;;) {
            auto deleted = s.delete_idle_mcp_sessions(before, 100);
            if (!deleted) log::warning("cannot delete idle MCP sessions", {{"error", deleted.error().message}});
            if (!deleted || *deleted < 100) break;
        }
        if (auto core = weak.lock()) {
            std::lock_guard lock(core->mu);
            core->sweeping = false;
        }
    });
    return expired;
}

void SharedSessionStore::end_standalone_streams() { core_->local->end_standalone_streams(); }

void SharedSessionStore::close_all() { core_->local->close_all(); }

void SharedSessionStore::hear(std::string_view channel, std::string_view payload) {
    auto& core = *core_;
    if (channel.empty()) {
        std::lock_guard lock(core.mu);
        ++core.generation;
        return;
    }
    if (channel != storage::kSessionEndedChannel) return;
    std::vector<std::pair<std::string, std::string>> stop;   // id, tenant
    {
        std::lock_guard lock(core.mu);
        while (!payload.empty()) {
            const auto comma = payload.find(',');
            const std::string hash(payload.substr(0, comma));
            payload.remove_prefix(comma == std::string_view::npos ? payload.size() : comma + 1);
            core.mark_ended_locked(hash);
            if (auto it = core.by_hash.find(hash); it != core.by_hash.end())
                stop.emplace_back(it->second, core.entries.at(it->second).tenant);
        }
    }
    for (const auto& [id, tenant] : stop) core.end_locally(id, tenant);
}

}  // namespace rollout_mcp
