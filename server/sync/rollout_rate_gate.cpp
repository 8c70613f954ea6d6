// The per-team Rollout rate gate: the book on a strand, leases on the storage thread, waits on timers.
#include "server/sync/rollout_rate_gate.hpp"

#include "base/use_nothrow.hpp"
#include "server/app/log.hpp"
#include "server/app/metrics.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <optional>

namespace rollout_mcp {
namespace asio = boost::asio;

namespace {

// The lane of the storage executor the leases wait in: never behind a team's enqueues or a purge.
constexpr const char* kLeaseLane = "rollout rate";

std::int64_t now_ms() {   // wall clock: the bucket is shared with instances on other hosts
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

metrics::Family<metrics::Counter>& gated() {
    static auto& f = metrics::registry().counter(
        "rollout_mcp_rollout_rate_gated_total",
        "Rollout requests over their team's rate ([rollout] requests_per_second_per_team): delayed, or refused",
        {"outcome"});
    return f;
}

Error refusal(std::chrono::seconds retry_after, std::string why) {
    Error e{rollout::ErrorKind::rate_limited, 0, std::move(why)};
    e.retry_after = retry_after;
    return e;
}

}  // namespace

RolloutRateSettings rollout_rate_settings(const RolloutClientSettings& config) {
    RolloutRateSettings s;
    s.per_second = config.requests_per_second_per_team;
    s.burst = static_cast<std::int64_t>(config.request_burst_per_team);
    s.max_wait = config.max_rate_wait;
    return s;
}

RolloutRateGate::RolloutRateGate(asio::any_io_executor executor, StorageExecutor& storage, RolloutRateSettings settings)
    : strand_(asio::make_strand(std::move(executor))), storage_(storage), settings_(settings), book_(settings) {}

std::shared_ptr<RolloutRateGate> RolloutRateGate::create(asio::any_io_executor executor, StorageExecutor& storage,
                                                         RolloutRateSettings settings) {
    return std::shared_ptr<RolloutRateGate>(new RolloutRateGate(std::move(executor), storage, settings));
}

asio::awaitable<Result<void>> RolloutRateGate::admit(std::string team) {
    Result<void> out;
    if (!settings_.enabled() || team.empty()) co_return out;   // "" = the operator's own calls
    auto work = admit_on_strand(shared_from_this(), std::move(team));
    // No cancellation slot is passed on (an empty one is bound): Boost 1.81's co_spawn forwards a caller's
    // cancellation to the strand through a handler that can be gone by the time the forwarded emit runs (a crash
    // seen when the gate answered while the caller was cancelled), and the gate must finish its book-keeping
    // anyway (admit_on_strand).
    auto on_strand = asio::co_spawn(strand_, std::move(work),
                                    asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    out = co_await std::move(on_strand);
    co_return out;
}

asio::awaitable<Result<void>> RolloutRateGate::admit_on_strand(std::shared_ptr<RolloutRateGate> self, std::string team) {
    RolloutRateGate& g = *self;
    // A cancelled caller (notifications/cancelled, a closed session) must not leave the book half-way: from
    // next() == lease until leased() or lease_failed() the team's lease is marked in flight, and only this
    // coroutine clears it; abandoned there, every later request of the team would wait and be refused. The wait
    // is bounded by max_rate_wait, so the gate runs to its answer and the caller's next co_await sees the cancel.
    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
    const std::int64_t deadline = now_ms() + g.settings_.max_wait.count();
    bool waited = false;
    Result<void> out;
    for (;;) {
        const std::int64_t now = now_ms();
        const auto step = g.book_.next(team, now, deadline);
        using Kind = RolloutRateBook::Step::Kind;
        if (step.kind == Kind::send) {
            g.count(team, &Counts::sent);
            if (waited) {
                g.count(team, &Counts::delayed);
                gated().with({"delayed"}).inc();
            }
            co_return out;
        }
        if (step.kind == Kind::refuse) {
            g.count(team, &Counts::refused);
            gated().with({"refused"}).inc();
            out = refusal(step.retry_after, "this team's Rollout request rate ([rollout] requests_per_second_per_team) "
                                            "is used up; nothing was sent");
            co_return out;
        }
        if (step.kind == Kind::wait) {
            waited = true;
            co_await g.sleep_until(team, step.until_ms);
            continue;
        }
        // Kind::lease: one database round trip, on the storage thread; the team's other requests wait for it.
        g.count(team, &Counts::leases);
        const storage::RateBucket bucket = g.settings_.bucket();
        const std::int64_t wanted = step.wanted;
        std::string lane = kLeaseLane;
        std::optional<Result<storage::RateLease>> answer;
        try {
            answer = co_await g.storage_.call_in(std::move(lane), &storage::Storage::lease_rate_tokens, team, bucket,
                                                 wanted, now);
        } catch (...) {   // whatever unwinds the frame: the lease is no longer in flight, the waiters must know
            g.book_.lease_failed(team, now_ms());
            g.wake(team);
            throw;
        }
        auto& lease = *answer;
        if (lease) {
            g.book_.leased(team, now_ms(), *lease);
            g.wake(team);
            continue;
        }
        g.book_.lease_failed(team, now_ms());
        g.wake(team);
        g.count(team, &Counts::refused);
        gated().with({"refused"}).inc();
        log::warning("cannot lease from a team's Rollout rate bucket", {{"team", team}, {"error", lease.error().message}});
        out = refusal(std::chrono::seconds(1), "this team's Rollout request rate cannot be checked (the database did "
                                               "not answer); nothing was sent");
        co_return out;
    }
}

asio::awaitable<void> RolloutRateGate::sleep_until(const std::string& team, std::int64_t until_ms) {
    asio::steady_timer timer(strand_);
    timer.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, until_ms - now_ms())));
    sleepers_[team].insert(&timer);
    co_await timer.async_wait(use_nothrow);
    auto it = sleepers_.find(team);
    if (it != sleepers_.end()) {
        it->second.erase(&timer);
        if (it->second.empty()) sleepers_.erase(it);
    }
}

void RolloutRateGate::wake(const std::string& team) {
    auto it = sleepers_.find(team);
    if (it == sleepers_.end()) return;
    for (auto* timer : it->second) timer->cancel();   // each sleeper looks again; one of them may lease
}

void RolloutRateGate::rate_limited(const std::string& team, std::optional<std::chrono::seconds> retry_after) {
    if (!settings_.enabled() || team.empty()) return;
    const auto pause = std::clamp(retry_after.value_or(settings_.default_pause), std::chrono::seconds(1),
                                  settings_.max_pause);
    const std::int64_t until = now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(pause).count();
    asio::post(strand_, [self = shared_from_this(), team, until] {
        self->book_.paused(team, until);
        self->wake(team);
    });
    // Every instance holds off: the team's row is emptied until then (fire and forget; a lost write costs one
    // more 429 on another instance, which pauses it too).
    storage_.post([team, until](storage::Storage& s) {
        if (auto r = s.pause_rate_bucket(team, until); !r)
            log::warning("cannot record a Rollout 429 pause", {{"team", team}, {"error", r.error().message}});
    });
}

void RolloutRateGate::count(const std::string& team, std::uint64_t Counts::*field) {
    std::lock_guard lock(counts_mu_);
    ++(counts_[team].*field);
}

RolloutRateGate::Counts RolloutRateGate::counts(const std::string& team) const {
    std::lock_guard lock(counts_mu_);
    auto it = counts_.find(team);
    return it == counts_.end() ? Counts{} : it->second;
}

}  // namespace rollout_mcp
