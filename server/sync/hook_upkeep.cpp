// Reconciling webhook subscriptions and polling what they do not cover (see hook_upkeep.hpp).
#include "server/sync/hook_upkeep.hpp"

#include "base/use_nothrow.hpp"
#include "base/utc_time.hpp"
#include "server/app/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>

namespace rollout_mcp {
namespace asio = boost::asio;

struct HookUpkeep::State {
    State(StorageExecutor& s, HookSubscriptions& h, HookProcessor& p, HookUpkeepSettings u)
        : storage(s), subscriptions(h), processor(p), settings(u) {}
    StorageExecutor& storage;
    HookSubscriptions& subscriptions;
    HookProcessor& processor;
    const HookUpkeepSettings settings;
    std::optional<asio::strand<asio::any_io_executor>> strand;
    std::optional<asio::steady_timer> poll_timer, reconcile_timer;
    std::atomic<bool> stopping{false};
};

namespace {

constexpr std::int64_t kMaxPendingForPolls = 1000;

using StatePtr = std::shared_ptr<HookUpkeep::State>;

// Subscribed connections whose check is due (one instance each, once per reconcile lease): subscriptions deleted or
// disabled at Rollout's end are made again (HookSubscriptions::repair), so a connection's changes do not stop
// silently. The lease is the unsubscribed connections' one: a repair that fails is tried again after it, as a
// connection that could not be subscribed is.
asio::awaitable<void> verify_subscribed(StatePtr s) {
    auto due = co_await s->storage.call(&storage::Storage::claim_subscribed_connections, unix_now_ms(),
                                        static_cast<std::int64_t>(s->settings.reconcile_lease.count()), std::size_t{16});
    if (!due) log::warning("cannot list subscribed connections to check", {{"error", due.error().message}});
    if (!due) co_return;
    for (const auto& c : *due) {
        if (s->stopping) break;
        const auto made = co_await s->subscriptions.repair(c.tenant_id, c.crm_type);
        if (!made)
            log::warning("cannot repair the webhook subscriptions at Rollout",
                         {{"tenant", c.tenant_id}, {"crm", c.crm_type}, {"error", made.error().message}});
        else if (*made > 0)
            log::warning("webhook subscriptions missing or disabled at Rollout were made again",
                         {{"tenant", c.tenant_id}, {"crm", c.crm_type}, {"subscriptions", static_cast<std::int64_t>(*made)}});
    }
}

asio::awaitable<void> reconcile_loop(StatePtr s) {
    while (!s->stopping) {
        // Without a public_url there is nothing to subscribe to: polling covers every connection.
        if (!s->subscriptions.public_url().empty()) {
            auto due = co_await s->storage.call(&storage::Storage::claim_unsubscribed_connections, unix_now_ms(),
                                                static_cast<std::int64_t>(s->settings.reconcile_lease.count()),
                                                std::size_t{16});
            if (!due) log::warning("cannot list connections to subscribe", {{"error", due.error().message}});
            if (due)
                for (const auto& c : *due) {
                    if (s->stopping) break;
                    const auto state = co_await s->subscriptions.subscribe(c.tenant_id, c.crm_type);
                    if (!state.subscribed)
                        log::info("webhooks not subscribed; changes are polled",
                                  {{"tenant", c.tenant_id}, {"crm", c.crm_type}, {"reason", state.reason}});
                }
            co_await verify_subscribed(s);
        }
        s->reconcile_timer->expires_after(s->settings.reconcile_every);
        co_await s->reconcile_timer->async_wait(use_nothrow);
    }
}

asio::awaitable<void> poll_loop(StatePtr s) {
    const double seconds = std::chrono::duration<double>(s->settings.poll_every).count();
    // No gate (0) still polls at the share of Rollout's documented per-tenant rate, not without bound.
    const double rate = s->settings.requests_per_second_per_team > 0 ? s->settings.requests_per_second_per_team : 40;
    // Records a round may read: at most 1,000 (the store's cap); under one, a round of one record every few periods.
    const double per_round = rate * s->settings.poll_share * seconds;
    const auto per_tenant = static_cast<std::size_t>(std::clamp(std::floor(per_round), 1.0, 1000.0));
    const auto every_nth = static_cast<std::int64_t>(per_round >= 1 ? 1 : std::ceil(1 / per_round));
    const auto window = static_cast<std::int64_t>(s->settings.poll_every.count()) * std::min<std::int64_t>(every_nth, 1'000'000);
    for (std::int64_t round = 0; !s->stopping; ++round) {
        if (round % every_nth != 0) {
            s->poll_timer->expires_after(s->settings.poll_every);
            co_await s->poll_timer->async_wait(use_nothrow);
            continue;
        }
        const bool all = s->subscriptions.public_url().empty();
        // While the processor is behind (Rollout down, the processor stopped), no more polls: the inbox does not
        // grow without bound, and deliveries from Rollout keep their place.
        auto pending = co_await s->storage.call(&storage::Storage::pending_hook_events);
        if (!pending || *pending > kMaxPendingForPolls) {
            s->poll_timer->expires_after(s->settings.poll_every);
            co_await s->poll_timer->async_wait(use_nothrow);
            continue;
        }
        // The window makes the budget the team's across every instance (rows any instance checked count).
        auto queued = co_await s->storage.call(&storage::Storage::enqueue_ledger_polls, unix_now_ms(), per_tenant,
                                               static_cast<std::int64_t>(s->settings.min_recheck.count()), all,
                                               window);
        if (!queued) log::warning("cannot queue polled records", {{"error", queued.error().message}});
        if (queued && *queued > 0) s->processor.wake();
        s->poll_timer->expires_after(s->settings.poll_every);
        co_await s->poll_timer->async_wait(use_nothrow);
    }
}

}  // namespace

HookUpkeep::HookUpkeep(StorageExecutor& storage, HookSubscriptions& subscriptions, HookProcessor& processor,
                       HookUpkeepSettings settings)
    : state_(std::make_shared<State>(storage, subscriptions, processor, settings)) {}

HookUpkeep::~HookUpkeep() { stop(); }

void HookUpkeep::start(asio::any_io_executor io) {
    state_->strand.emplace(asio::make_strand(io));
    state_->poll_timer.emplace(*state_->strand);
    state_->reconcile_timer.emplace(*state_->strand);
    asio::co_spawn(*state_->strand, reconcile_loop(state_), asio::detached);
    asio::co_spawn(*state_->strand, poll_loop(state_), asio::detached);
}

void HookUpkeep::stop() {
    state_->stopping = true;
    if (!state_->strand) return;
    asio::post(*state_->strand, [s = state_] {
        s->poll_timer->cancel();
        s->reconcile_timer->cancel();
    });
}

}  // namespace rollout_mcp
