// Outbox scheduling: one loop on a strand scans due jobs (fair across teams), claims what the caps allow and
// spawns one coroutine per attempt; each attempt records its outcome and wakes the loop and any watchers.
#include "server/sync/sync_worker.hpp"
#include "base/use_nothrow.hpp"

#include "server/app/io_threads.hpp"
#include "server/app/log.hpp"
#include "server/app/metrics.hpp"
#include "server/sync/enqueue_batch.hpp"
#include "server/sync/finish_batch.hpp"
#include "server/sync/in_flight_places.hpp"
#include "server/sync/outbox_retention.hpp"
#include "server/sync/sync_alerts.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>

namespace rollout_mcp {
namespace asio = boost::asio;
using storage::AttemptOutcome;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string_view outcome_name(AttemptOutcome::Next next) {
    switch (next) {
    case AttemptOutcome::Next::succeed: return "succeeded";
    case AttemptOutcome::Next::retry: return "retry";
    case AttemptOutcome::Next::fail: return "failed";
    case AttemptOutcome::Next::die: return "dead";
    }
    return "failed";
}

metrics::Family<metrics::Counter>& attempts_metric() {
    static auto& f = metrics::registry().counter("rollout_mcp_sync_attempts_total",
                                                 "Outbox sync attempts by CRM and outcome (succeeded, retry, failed, dead)",
                                                 {"crm", "outcome"});
    return f;
}

metrics::Family<metrics::Counter>& dead_metric() {
    static auto& f = metrics::registry().counter("rollout_mcp_sync_jobs_dead_total",
                                                 "Outbox jobs that exhausted their retries, by CRM", {"crm"});
    return f;
}

}  // namespace

struct SyncWorker::State : std::enable_shared_from_this<State> {
    State(StorageExecutor& st, SyncSettings set, Runner run, std::shared_ptr<AlertSender> al, JitterSource j)
        : storage(st), settings(std::move(set)), runner(std::move(run)), alerts(std::move(al)), jitter(std::move(j)) {}

    // Set once by start(), before any loop runs.
    asio::any_io_executor io;
    SyncWorker::AttemptExecutors attempt_executors;   // empty: attempts run on `io`
    std::optional<asio::strand<asio::any_io_executor>> strand;
    std::optional<asio::steady_timer> wake_timer;    // strand only
    std::optional<asio::steady_timer> alert_timer;   // strand only
    std::atomic<bool> started{false};
    StorageExecutor& storage;
    FinishBatch finishing{storage};   // attempts that end together share one commit
    const SyncSettings settings;
    Runner runner;
    std::shared_ptr<AlertSender> alerts;
    JitterSource jitter;
    bool woken = false;              // strand only: a wake arrived while scanning
    // A freed place wakes the scheduler only when its last scan left due jobs unstarted (or could not tell): with
    // jobs claimed at their enqueue, most attempts end with nothing queued. `releases` closes the race with a scan
    // that is running: each side writes its own flag, then reads the other's (both sequentially consistent).
    std::atomic<bool> left_queued{true};
    std::atomic<std::uint64_t> releases{0};
    std::int64_t last_purge_ms = 0;  // strand only
    bool purge_unfinished = false;   // strand only: the last purge pass stopped at its time slice
    std::atomic<bool> stopping{false};

    InFlightPlaces places{settings};
    mutable std::mutex mu;  // the listeners
    std::map<std::uint64_t, std::pair<std::set<std::string>, Listener>> listeners;
    std::uint64_t next_listener = 1;

    void wake() {
        if (!started) return;
        asio::post(*strand, [self = shared_from_this()] {
            self->woken = true;
            self->wake_timer->cancel();
            self->alert_timer->cancel();
        });
    }
    void wake_alerts() {   // a job died: its alert goes out now rather than at the next poll
        if (!started) return;
        asio::post(*strand, [self = shared_from_this()] { self->alert_timer->cancel(); });
    }

    void place_freed() {
        ++releases;
        if (left_queued) wake();
    }

    // Runs a claimed job's attempt on its own strand of `home` (the thread of the call that enqueued it), or else
    // of the next I/O thread; its place is held already.
    void start_attempt(storage::ClaimedJob job, const asio::any_io_executor& home = {}) {
        const asio::any_io_executor where = home ? home : attempt_executors ? attempt_executors() : io;
        asio::co_spawn(asio::make_strand(where), shared_from_this()->attempt(std::move(job)), asio::detached);
    }

    void notify(const storage::SyncJobInfo& info) {
        std::vector<Listener> targets;
        {
            std::lock_guard lock(mu);
            for (const auto& [id, entry] : listeners)
                if (entry.first.count(info.id)) targets.push_back(entry.second);
        }
        for (const auto& l : targets) l(info);
    }

    // Watched jobs among `ids` (every watched one when `all`) changed without an attempt of this worker (another
    // instance, tasks/cancel, a notification gap): each is read back and its watchers told, on the strand.
    void reload_watched(const std::vector<std::string>& ids, bool all) {
        std::set<std::string> wanted;
        {
            std::lock_guard lock(mu);
            for (const auto& [id, entry] : listeners)
                for (const auto& job : entry.first)
                    if (all || std::find(ids.begin(), ids.end(), job) != ids.end()) wanted.insert(job);
        }
        if (started && !wanted.empty())
            asio::co_spawn(*strand, shared_from_this()->reload_and_notify({wanted.begin(), wanted.end()}), asio::detached);
    }
    asio::awaitable<void> reload_and_notify(std::vector<std::string> job_ids) {
        auto self = shared_from_this();   // the state outlives this coroutine's suspension, as attempt()'s does
        for (auto& id : job_ids) {
            storage::SyncJobQuery query;
            query.job_id = std::move(id);
            query.limit = 1;
            auto found = co_await storage.call(&storage::Storage::find_sync_jobs, query);
            if (found && !found->empty()) notify(found->front());
        }
    }

    asio::awaitable<void> attempt(storage::ClaimedJob job) {
        auto self = shared_from_this();
        AttemptResult result;
        try {
            result = co_await runner(job);
        } catch (const std::exception& e) {
            result.error = Error{rollout::ErrorKind::permanent, 0, std::string("internal error: ") + e.what()};
        }
        const auto now = now_ms();
        auto outcome = decide_next(settings, job.info, result.error, now, jitter);
        outcome.result_json = std::move(result.result_json);
        outcome.ledger = std::move(result.ledger);
        const auto next = outcome.next;
        // Under the claim's fencing token: if the claim was lost meanwhile (lease expired and the job was
        // claimed again), the store refuses and nothing of this attempt is recorded.
        storage::FinishAttempt record{job.info.id, job.claim_token, std::move(outcome), now};
        auto finished = co_await finishing.finish(std::move(record));
        places.release(job.info);
        if (!finished) {
            // The claim stays until its lease ends; the job is then re-driven with recover.
            log::error("cannot record a sync attempt", {{"job", job.info.id}, {"error", finished.error().message}});
        } else {
            attempts_metric().with({job.info.crm_type, std::string(outcome_name(next))}).inc();
            if (next == AttemptOutcome::Next::die) {
                dead_metric().with({job.info.crm_type}).inc();
                wake_alerts();
                log::error("sync job dead", {{"job", finished->id}, {"tenant", finished->tenant_id},
                                             {"crm", finished->crm_type}, {"kind", finished->kind},
                                             {"subject", finished->subject}, {"attempts", finished->attempts},
                                             {"error", finished->last_error}});
            }
            notify(*finished);
        }
        place_freed();
    }

    // One pass; `left` ends true unless every due job it saw was started.
    asio::awaitable<void> scan() {
        const auto seen = releases.load();
        bool left = true;
        co_await scan_once(left);
        left_queued = left;
        if (left && releases.load() != seen) woken = true;   // a place freed during the pass: look again
    }

    asio::awaitable<void> scan_once(bool& left) {
        const std::size_t capacity = places.capacity();
        if (capacity == 0) {
            places.set_backlog(true);   // due jobs may be waiting: the next free place is theirs, not a new job's
            co_return;
        }
        const auto now = now_ms();
        const std::size_t per_team_window = settings.per_team_in_flight * 2;
        const std::size_t limit = std::min<std::size_t>(2000, std::max<std::size_t>(64, capacity * 4));
        auto due = co_await storage.call(&storage::Storage::due_sync_jobs, now, per_team_window, limit);
        if (!due) {
            log::warning("cannot scan the sync outbox", {{"error", due.error().message}});
            co_return;
        }
        auto ids = places.take_due(*due, capacity);   // their places are held from here
        // Due jobs left for want of a free place come before any job enqueued meanwhile (SyncWorker::Intake).
        places.set_backlog(ids.size() == capacity && due->size() > ids.size());
        left = due->size() > ids.size() || due->size() >= limit;
        if (ids.empty()) co_return;
        const auto lease_until = now + settings.lease.count();
        auto claimed = co_await storage.call(&storage::Storage::claim_sync_jobs, ids, now, lease_until);
        const bool stopped = stopping;   // read once: every place below is either held or given back
        // Stopped while the claim was on the storage thread: start nothing new. The claims are left to
        // expire, and the next start re-queues them (requeue_interrupted_sync_jobs).
        std::vector<std::string> failed;   // not claimed: another instance's, or failed (its payload does not open)
        for (const auto& j : *due) {
            const bool taken = claimed && !stopped &&
                               std::any_of(claimed->begin(), claimed->end(), [&](const auto& c) { return c.info.id == j.id; });
            if (taken || std::find(ids.begin(), ids.end(), j.id) == ids.end()) continue;
            places.unreserve(PlaceKey::of(j));
            failed.push_back(j.id);
        }
        if (!claimed) log::warning("cannot claim sync jobs", {{"error", claimed.error().message}});
        if (!claimed || stopped) {
            left = true;
            co_return;
        }
        left = left || claimed->size() < ids.size();
        reload_watched(failed, false);
        for (auto& job : *claimed) {
            places.hold(job.info, /*reserved=*/true);
            start_attempt(std::move(job));
        }
        if (ids.size() == capacity || due->size() >= limit) woken = true;   // more may be due right now
    }

    // Retention, hourly (server/sync/outbox_retention.hpp); a pass cut short at its time slice resumes at the next.
    asio::awaitable<void> purge_now() {
        const auto now = now_ms();
        if (!purge_unfinished && now - last_purge_ms < 3'600'000) co_return;
        if (!purge_unfinished) last_purge_ms = now;
        purge_unfinished = co_await purge_outbox_slice(storage, settings, now, stopping);
        if (purge_unfinished && !stopping) woken = true;   // come back soon rather than after a poll interval
    }

    asio::awaitable<void> schedule_loop() {
        auto self = shared_from_this();
        while (!stopping) {
            woken = false;
            co_await scan();
            co_await purge_now();
            if (stopping) break;
            if (woken) continue;
            wake_timer->expires_after(settings.poll);
            co_await wake_timer->async_wait(use_nothrow);
        }
    }

    asio::awaitable<void> alert_loop() {
        auto self = shared_from_this();
        while (!stopping) {
            co_await deliver_due_alerts(storage, alerts.get(), settings, jitter);
            if (stopping) break;
            alert_timer->expires_after(settings.poll);
            co_await alert_timer->async_wait(use_nothrow);
        }
    }
};

SyncWorker::SyncWorker(StorageExecutor& storage, SyncSettings settings, Runner runner,
                       std::shared_ptr<AlertSender> alerts, JitterSource jitter)
    : state_(std::make_shared<State>(storage, std::move(settings), std::move(runner), std::move(alerts),
                                     std::move(jitter))),
      accepting_(std::make_unique<EnqueueBatch>(storage)) {}

SyncWorker::~SyncWorker() { stop(); }

void SyncWorker::start(asio::any_io_executor io, AttemptExecutors attempt_executors) {
    if (state_->started) throw std::logic_error("SyncWorker::start called twice");
    state_->io = io;
    state_->attempt_executors = std::move(attempt_executors);
    state_->strand.emplace(asio::make_strand(io));
    state_->wake_timer.emplace(*state_->strand);
    state_->alert_timer.emplace(*state_->strand);
    const auto now = now_ms();
    auto requeued = state_->storage.direct().requeue_interrupted_sync_jobs(now);
    if (!requeued) throw std::runtime_error("cannot re-queue interrupted sync jobs: " + requeued.error().message);
    if (*requeued > 0)
        log::warning("re-queued sync jobs interrupted by the previous stop",
                     {{"count", static_cast<std::int64_t>(*requeued)}});
    state_->started = true;
    asio::co_spawn(*state_->strand, state_->schedule_loop(), asio::detached);
    asio::co_spawn(*state_->strand, state_->alert_loop(), asio::detached);
}

void SyncWorker::stop() {
    if (state_->stopping.exchange(true)) return;
    state_->wake();   // the loops see `stopping` and end
}

void SyncWorker::release_io() {
    stop();
    state_->started = false;   // wake() no longer posts
    state_->wake_timer.reset();
    state_->alert_timer.reset();
    state_->strand.reset();
}

SyncWorker::Intake SyncWorker::intake(const asio::any_io_executor& home) const {
    Intake out;
    out.state_ = state_;
    if (home) out.home_ = context_executor_of(home, home);   // without the caller's strand
    return out;
}

void SyncWorker::Intake::reserve(storage::SyncRequest& request) const {
    const auto state = state_.lock();
    if (!state || !state->started || state->stopping) return;
    bool any = false;
    for (auto& job : request.jobs) {
        job.claim = state->places.reserve({request.tenant_id, job.crm_type, job.lock_key, job.tour_id});
        any = any || job.claim;
    }
    if (any) request.claim_lease_until_ms = now_ms() + state->settings.lease.count();
}

void SyncWorker::Intake::settle(const storage::SyncRequest& request, storage::EnqueueResult* accepted) const {
    const auto state = state_.lock();
    if (!state) return;
    std::size_t next_claimed = 0;
    for (std::size_t i = 0; i < request.jobs.size(); ++i) {
        const auto& job = request.jobs[i];
        if (!job.claim) continue;
        auto* claimed = accepted && next_claimed < accepted->claimed.size() &&
                                accepted->claimed[next_claimed].info.id == accepted->job_ids[i]
                            ? &accepted->claimed[next_claimed++]
                            : nullptr;
        // Stopping: the claim is left to expire, as a scan's would be, and the next start re-queues it.
        if (!claimed || state->stopping || !state->started) {
            state->places.unreserve({request.tenant_id, job.crm_type, job.lock_key, job.tour_id});
            state->place_freed();
            continue;
        }
        state->places.hold(claimed->info, /*reserved=*/true);
        const auto key = PlaceKey::of(claimed->info);
        const auto id = claimed->info.id;
        try {
            state->start_attempt(std::move(*claimed), home_);
        } catch (const std::exception& e) {   // cannot start it (bad_alloc): its claim expires and it runs again
            state->places.release(id, key);
            log::error("cannot start a sync attempt", {{"job", id}, {"error", e.what()}});
        }
    }
}

void SyncWorker::wake() { state_->wake(); }
void SyncWorker::jobs_changed(const std::vector<std::string>& job_ids) { state_->reload_watched(job_ids, false); }
void SyncWorker::notifications_gap() { state_->reload_watched({}, true); }

std::shared_ptr<void> SyncWorker::watch_scoped(std::vector<std::string> job_ids, Listener listener) {
    return watcher()(std::move(job_ids), std::move(listener));
}

SyncWorker::Watcher SyncWorker::watcher() const {
    // Holds the state weakly: a handle, or the watcher itself, may outlive the worker (a coroutine frame destroyed
    // with its io_context, a storage call still queued at shutdown).
    return [weak = std::weak_ptr<State>(state_)](std::vector<std::string> job_ids, Listener listener) -> std::shared_ptr<void> {
        const auto state = weak.lock();
        if (!state) return nullptr;
        std::lock_guard lock(state->mu);
        const auto id = state->next_listener++;
        state->listeners[id] = {std::set<std::string>(job_ids.begin(), job_ids.end()), std::move(listener)};
        return std::shared_ptr<int>(new int(0), [weak, id](int* p) {
            delete p;
            if (auto s = weak.lock()) {
                std::lock_guard lock(s->mu);
                s->listeners.erase(id);
            }
        });
    };
}

}  // namespace rollout_mcp
