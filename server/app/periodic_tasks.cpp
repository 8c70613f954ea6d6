// Every task is a coroutine on one strand that owns the timers, so stop() from any thread is a post.
#include "server/app/periodic_tasks.hpp"

#include "base/use_nothrow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <list>

namespace rollout_mcp {
namespace asio = boost::asio;

struct PeriodicTasks::State : std::enable_shared_from_this<State> {
    explicit State(asio::any_io_executor io) : strand(asio::make_strand(io)) {}

    asio::awaitable<void> run(asio::steady_timer& timer, std::chrono::milliseconds period, std::function<void()> task) {
        auto self = shared_from_this();   // the timers live as long as a task does
        while (!stopping) {
            timer.expires_after(period);
            auto [ec] = co_await timer.async_wait(use_nothrow);
            if (ec || stopping) break;
            task();
        }
    }

    asio::strand<asio::any_io_executor> strand;
    std::list<asio::steady_timer> timers;   // touched on the strand only (stable addresses)
    std::atomic<bool> stopping{false};
};

PeriodicTasks::PeriodicTasks(asio::any_io_executor io) : state_(std::make_shared<State>(std::move(io))) {}

PeriodicTasks::~PeriodicTasks() { stop(); }

void PeriodicTasks::every(std::chrono::milliseconds period, std::function<void()> task) {
    asio::post(state_->strand, [state = state_, period, task = std::move(task)]() mutable {
        if (state->stopping) return;
        auto& timer = state->timers.emplace_back(state->strand);
        asio::co_spawn(state->strand, state->run(timer, period, std::move(task)), asio::detached);
    });
}

void PeriodicTasks::stop() {
    if (state_->stopping.exchange(true)) return;
    asio::post(state_->strand, [state = state_] {
        for (auto& timer : state->timers) timer.cancel();
    });
}

}  // namespace rollout_mcp
