// The per-team Rollout rate gate (docs/ARCHITECTURE.md, "Rollout request rate"), the server's
// rollout::RequestGate: every Rollout request a team makes, from a sync job or a tool, passes it before it is
// sent. Tokens come from the team's bucket in the database (storage/rate_buckets.hpp), a small lease at a time
// on the storage executor, so the rate holds across every instance on one PostgreSQL database; a request that
// finds none waits on a timer up to [rollout] max_rate_wait_ms, then fails as rate_limited with a Retry-After, so
// the outbox backs off instead of holding its slot. A 429 empties the team's bucket until Rollout's Retry-After,
// for every instance.
//
// SQLite runs the same gate on the same table: one code path tested on both engines, a lease every ~100 ms
// of a busy team is a cheap local write, and a 429 pause survives a restart.
#pragma once

#include "rollout/errors.hpp"
#include "rollout/request_gate.hpp"
#include "server/app/config.hpp"
#include "server/sync/rollout_rate.hpp"
#include "storage/storage_executor.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace rollout_mcp {

class RolloutRateGate final : public rollout::RequestGate, public std::enable_shared_from_this<RolloutRateGate> {
public:
    // Timers and the book run on a strand of `executor`; leases on `storage`'s thread, in a lane of their own.
    static std::shared_ptr<RolloutRateGate> create(boost::asio::any_io_executor executor, StorageExecutor& storage,
                                                   RolloutRateSettings settings);

    boost::asio::awaitable<Result<void>> admit(std::string team) override;
    void rate_limited(const std::string& team, std::optional<std::chrono::seconds> retry_after) override;

    // What the gate did for one team (tests and diagnostics). Thread-safe.
    struct Counts {
        std::uint64_t sent = 0;
        std::uint64_t delayed = 0;   // sent after a wait
        std::uint64_t refused = 0;
        std::uint64_t leases = 0;    // database round trips
    };
    Counts counts(const std::string& team) const;

private:
    RolloutRateGate(boost::asio::any_io_executor executor, StorageExecutor& storage, RolloutRateSettings settings);
    // The whole decision, on the strand; `self` keeps the gate alive while it runs.
    static boost::asio::awaitable<Result<void>> admit_on_strand(std::shared_ptr<RolloutRateGate> self, std::string team);
    boost::asio::awaitable<void> sleep_until(const std::string& team, std::int64_t until_ms);   // strand only
    void wake(const std::string& team);                                                        // strand only
    void count(const std::string& team, std::uint64_t Counts::*field);

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    StorageExecutor& storage_;
    const RolloutRateSettings settings_;
    RolloutRateBook book_;                                                  // strand only
    std::map<std::string, std::set<boost::asio::steady_timer*>> sleepers_;  // strand only: waiting requests
    mutable std::mutex counts_mu_;
    std::map<std::string, Counts> counts_;
};

// [rollout] requests_per_second_per_team, request_burst_per_team and max_rate_wait_ms.
RolloutRateSettings rollout_rate_settings(const RolloutClientSettings& config);

}  // namespace rollout_mcp
