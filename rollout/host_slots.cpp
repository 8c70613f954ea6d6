// Per-origin request slots with a per-partition share and round-robin hand-over (see host_slots.hpp).
#include "host_slots.hpp"
#include "base/use_nothrow.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>

namespace rollout_mcp::rollout {
namespace asio = boost::asio;

namespace {
std::size_t share_of(double share, std::size_t total) {
    const double s = std::isfinite(share) ? std::clamp(share, 0.0, 1.0) : 0.0;
    return std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(s * static_cast<double>(total))));
}
}  // namespace

std::size_t SlotLimits::partition_in_flight_cap() const { return share_of(per_team_share, slots); }
std::size_t SlotLimits::partition_queue_cap() const { return share_of(per_team_share, max_queued); }

SlotLedger::Admit SlotLedger::acquire(const std::string& partition, std::uint64_t ticket) {
    auto it = partitions_.try_emplace(partition).first;
    Partition& p = it->second;
    if (in_flight_ < limits_.slots && p.in_flight < limits_.partition_in_flight_cap() && p.waiting.empty()) {
        ++in_flight_;
        ++p.in_flight;
        last_served_ = partition;  // served now: the others come first when a slot frees
        return Admit::granted;
    }
    Admit refused = Admit::queued;
    if (queued_ >= limits_.max_queued) refused = Admit::origin_queue_full;
    else if (p.waiting.size() >= limits_.partition_queue_cap()) refused = Admit::partition_queue_full;
    if (refused != Admit::queued) {
        forget_if_idle(it);
        return refused;
    }
    p.waiting.push_back(ticket);
    ++queued_;
    return Admit::queued;
}

std::vector<SlotLedger::Grant> SlotLedger::release(const std::string& partition) {
    auto it = partitions_.find(partition);
    if (it != partitions_.end() && it->second.in_flight > 0) {
        --it->second.in_flight;
        --in_flight_;
        forget_if_idle(it);
    }
    return dispatch();
}

bool SlotLedger::cancel(const std::string& partition, std::uint64_t ticket) {
    auto it = partitions_.find(partition);
    if (it == partitions_.end()) return false;
    auto& w = it->second.waiting;
    auto pos = std::find(w.begin(), w.end(), ticket);
    if (pos == w.end()) return false;
    w.erase(pos);
    --queued_;
    forget_if_idle(it);
    return true;
}

std::size_t SlotLedger::in_flight(const std::string& partition) const {
    auto it = partitions_.find(partition);
    return it == partitions_.end() ? 0 : it->second.in_flight;
}

std::size_t SlotLedger::queued(const std::string& partition) const {
    auto it = partitions_.find(partition);
    return it == partitions_.end() ? 0 : it->second.waiting.size();
}

// Hands free slots to waiting partitions, one each in turn, starting after the one served last; a
// partition at its in-flight share is skipped until one of its own requests finishes.
std::vector<SlotLedger::Grant> SlotLedger::dispatch() {
    std::vector<Grant> granted;
    const std::size_t cap = limits_.partition_in_flight_cap();
    auto eligible = [cap](const Partition& p) { return !p.waiting.empty() && p.in_flight < cap; };
    while (in_flight_ < limits_.slots && queued_ > 0) {
        auto is_eligible = [&](const auto& kv) { return eligible(kv.second); };
        const auto start = partitions_.upper_bound(last_served_);
        auto found = std::find_if(start, partitions_.end(), is_eligible);
        if (found == partitions_.end()) {
            found = std::find_if(partitions_.begin(), start, is_eligible);
            if (found == start) break;  // nobody waiting is under its share
        }
        Partition& p = found->second;
        granted.push_back({p.waiting.front(), found->first});
        p.waiting.pop_front();
        --queued_;
        ++p.in_flight;
        ++in_flight_;
        last_served_ = found->first;
    }
    return granted;
}

void SlotLedger::forget_if_idle(std::map<std::string, Partition>::iterator it) {
    if (it->second.in_flight == 0 && it->second.waiting.empty()) partitions_.erase(it);
}

SlotLease::SlotLease(std::shared_ptr<SlotScheduler> owner, std::string origin, std::string partition)
    : owner_(std::move(owner)), origin_(std::move(origin)), partition_(std::move(partition)) {}

SlotLease::~SlotLease() {
    if (owner_) owner_->release(origin_, partition_);
}

struct SlotScheduler::Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : channel(ex, 1) {}
    asio::experimental::concurrent_channel<void(boost::system::error_code)> channel;
};

void SlotScheduler::note_grant(const std::string& origin, const std::string& partition) {
    const SlotLedger& ledger = ledgers_.at(origin);
    in_flight_peak_ = std::max(in_flight_peak_, ledger.in_flight());
    auto& peak = partition_peak_[partition];
    peak = std::max(peak, ledger.in_flight(partition));
}

asio::awaitable<Result<std::shared_ptr<SlotLease>>> SlotScheduler::acquire(
    std::string origin, std::string partition, std::chrono::steady_clock::time_point deadline) {
    auto self = shared_from_this();
    auto ex = co_await asio::this_coro::executor;
    std::uint64_t ticket = 0;
    std::shared_ptr<Waiter> me;
    SlotLedger::Admit admit;
    std::size_t waiting_for_partition = 0;
    {
        std::lock_guard lock(mu_);
        ticket = next_ticket_++;
        auto& ledger = ledgers_.try_emplace(origin, limits_).first->second;
        admit = ledger.acquire(partition, ticket);
        waiting_for_partition = ledger.queued(partition);
        if (admit == SlotLedger::Admit::granted) {
            note_grant(origin, partition);
        } else if (admit == SlotLedger::Admit::queued) {
            me = std::make_shared<Waiter>(ex);
            waiters_[ticket] = me;
        } else if (ledger.idle()) {
            ledgers_.erase(origin);
        }
    }
    if (admit == SlotLedger::Admit::origin_queue_full || admit == SlotLedger::Admit::partition_queue_full) {
        const std::string why =
            admit == SlotLedger::Admit::partition_queue_full
                ? std::to_string(waiting_for_partition) + " of this team's requests already wait for " + origin +
                      "; a team may queue per_team_host_share x max_queued_per_host = " +
                      std::to_string(limits_.partition_queue_cap())
                : origin + " already has max_queued_per_host = " + std::to_string(limits_.max_queued) +
                      " requests waiting";
        Error full{ErrorKind::rate_limited, 0, "too many Rollout requests queued for this team (" + why + "): retry shortly"};
        full.retry_after = std::chrono::seconds{1};
        co_return full;
    }
    if (admit == SlotLedger::Admit::queued) {
        asio::steady_timer timer(ex);
        timer.expires_at(deadline);
        using namespace asio::experimental::awaitable_operators;
        co_await (me->channel.async_receive(use_nothrow) || timer.async_wait(use_nothrow));
        // Ownership is decided under the lock: a release that dispatched our ticket handed us its slot.
        bool timed_out = false;
        {
            std::lock_guard lock(mu_);
            waiters_.erase(ticket);
            auto it = ledgers_.find(origin);
            timed_out = it != ledgers_.end() && it->second.cancel(partition, ticket);
            if (timed_out && it->second.idle()) ledgers_.erase(it);
        }
        if (timed_out) {
            Error late{ErrorKind::transient, 0,
                       "timed out waiting for a free request slot to " + origin + " (too many requests in flight)"};
            co_return late;
        }
    }
    auto lease = std::make_shared<SlotLease>(self, origin, partition);
    Result<std::shared_ptr<SlotLease>> held(std::move(lease));
    co_return held;
}

void SlotScheduler::release(const std::string& origin, const std::string& partition) {
    std::vector<std::shared_ptr<Waiter>> wake;
    {
        std::lock_guard lock(mu_);
        auto it = ledgers_.find(origin);
        if (it == ledgers_.end()) return;
        for (const auto& grant : it->second.release(partition)) {
            note_grant(origin, grant.partition);
            if (auto w = waiters_.find(grant.ticket); w != waiters_.end()) wake.push_back(w->second);
        }
        if (it->second.idle()) ledgers_.erase(it);
        if (closed_) wake.clear();
    }
    for (auto& w : wake) w->channel.try_send(boost::system::error_code{});
}

void SlotScheduler::shutdown() {
    std::map<std::uint64_t, std::shared_ptr<Waiter>> doomed;   // destroyed outside the lock
    std::lock_guard lock(mu_);
    closed_ = true;
    doomed.swap(waiters_);
}

std::size_t SlotScheduler::in_flight_peak() const {
    std::lock_guard lock(mu_);
    return in_flight_peak_;
}

std::map<std::string, std::size_t> SlotScheduler::partition_in_flight_peak() const {
    std::lock_guard lock(mu_);
    return partition_peak_;
}

}  // namespace rollout_mcp::rollout
