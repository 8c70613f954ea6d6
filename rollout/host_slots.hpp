// Fair outbound capacity per origin. Each origin has max_concurrent_per_host request slots shared by the
// partitions (teams) that call it; one partition may hold at most a share of the slots and of the waiting
// line, and a freed slot goes round robin to the next partition that is waiting and under its share. So a
// team that floods one origin is refused quickly instead of starving the others.
//
// SlotLedger is the sans-I/O bookkeeping (unit-testable without sockets); SlotScheduler wraps it for
// coroutines with a deadline, thread-safe.
#pragma once

#include "errors.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace rollout_mcp::rollout {

struct SlotLimits {
    std::size_t slots = 16;          // requests in flight per origin (HttpOptions::max_concurrent_per_host)
    double per_team_share = 0.25;    // HttpOptions::per_team_host_share
    std::size_t max_queued = 256;    // HttpOptions::max_queued_per_host
    // max(1, floor(share * slots)) and max(1, floor(share * max_queued)).
    std::size_t partition_in_flight_cap() const;
    std::size_t partition_queue_cap() const;
};

// One origin's slots. Tickets identify waiters; the caller maps them to whatever wakes the waiter.
class SlotLedger {
public:
    enum class Admit { granted, queued, origin_queue_full, partition_queue_full };
    struct Grant {
        std::uint64_t ticket;
        std::string partition;
    };

    explicit SlotLedger(SlotLimits limits) : limits_(limits) {}

    // Takes a slot for `partition` now, or queues `ticket`, or refuses because a waiting line is full.
    Admit acquire(const std::string& partition, std::uint64_t ticket);
    // Gives back one slot of `partition`; returns the queued tickets that now hold a slot (wake each).
    std::vector<Grant> release(const std::string& partition);
    // Removes a queued ticket (its deadline passed). False if it is not queued: it was granted meanwhile.
    bool cancel(const std::string& partition, std::uint64_t ticket);

    std::size_t in_flight() const { return in_flight_; }
    std::size_t queued() const { return queued_; }
    std::size_t in_flight(const std::string& partition) const;
    std::size_t queued(const std::string& partition) const;
    bool idle() const { return in_flight_ == 0 && queued_ == 0; }

private:
    struct Partition {
        std::size_t in_flight = 0;
        std::deque<std::uint64_t> waiting;
    };
    std::vector<Grant> dispatch();
    void forget_if_idle(std::map<std::string, Partition>::iterator it);

    SlotLimits limits_;
    std::size_t in_flight_ = 0;
    std::size_t queued_ = 0;
    std::map<std::string, Partition> partitions_;
    std::string last_served_;  // round robin: the next grant goes to the first eligible partition after it
};

class SlotScheduler;

// A held slot; gives it back when destroyed.
class SlotLease {
public:
    SlotLease(std::shared_ptr<SlotScheduler> owner, std::string origin, std::string partition);
    SlotLease(const SlotLease&) = delete;
    SlotLease& operator=(const SlotLease&) = delete;
    SlotLease(SlotLease&&) noexcept = default;
    SlotLease& operator=(SlotLease&&) noexcept = default;
    ~SlotLease();

private:
    std::shared_ptr<SlotScheduler> owner_;
    std::string origin_, partition_;
};

class SlotScheduler : public std::enable_shared_from_this<SlotScheduler> {
public:
    explicit SlotScheduler(SlotLimits limits) : limits_(limits) {}

    // A slot for (origin, partition), waiting at most until `deadline`: transient Error on timeout,
    // rate_limited Error (retry_after 1 s) at once when the waiting line is full.
    boost::asio::awaitable<Result<std::shared_ptr<SlotLease>>> acquire(std::string origin, std::string partition,
                                                                        std::chrono::steady_clock::time_point deadline);

    // Before the io_context the waiters run on is destroyed with requests abandoned (HttpPool::close_idle):
    // drops every waiting request's wake-up channel now, and later releases (the frames of abandoned
    // requests being destroyed) hand nothing over, as nothing may be sent on a channel of a dying io_context.
    void shutdown();

    std::size_t in_flight_peak() const;                                 // any one origin
    std::map<std::string, std::size_t> partition_in_flight_peak() const;  // any one origin, per partition
    const SlotLimits& limits() const { return limits_; }

private:
    friend class SlotLease;
    void release(const std::string& origin, const std::string& partition);
    void note_grant(const std::string& origin, const std::string& partition);  // under mu_

    struct Waiter;
    SlotLimits limits_;
    mutable std::mutex mu_;
    std::map<std::string, SlotLedger> ledgers_;
    std::map<std::uint64_t, std::shared_ptr<Waiter>> waiters_;
    bool closed_ = false;   // shutdown() was called
    std::uint64_t next_ticket_ = 1;
    std::size_t in_flight_peak_ = 0;
    std::map<std::string, std::size_t> partition_peak_;
};

}  // namespace rollout_mcp::rollout
