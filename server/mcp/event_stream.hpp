// One SSE stream of an MCP session: a POST request's reply stream or the session's standalone GET stream.
// Producers (tool handlers) append messages; at most one connection writes the stream at a time and can
// resume it after a drop from a bounded replay log.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rollout_mcp::mcp {

class EventStream {
public:
    using Clock = std::chrono::steady_clock;
    using Waker = std::function<void()>;   // must be thread-safe; wakes the attached writer
    using Payload = std::shared_ptr<const std::string>;

    EventStream(std::uint32_t number, bool standalone, std::size_t max_events, std::size_t max_bytes);

    std::uint32_t number() const { return number_; }
    bool standalone() const { return standalone_; }

    // --- producer side (any thread) ---
    // Appends one serialized JSON-RPC message; `final` marks the response that completes a POST stream.
    void append(std::string json, bool final = false);
    // Ends the current HTTP response without completing the stream (the client resumes with Last-Event-ID).
    void request_connection_close();
    // The request was cancelled: no response will come; a writer keeps the stream open with keep-alives.
    void mark_cancelled();
    // The session ended or the server is stopping: writers finish and nothing more is appended.
    void close();

    // --- writer side ---
    enum class Attach { ok, busy, gone, too_old };
    // Attaches a writer that has seen everything up to `after_seq`. The waker may come later
    // (set_waker): a POST stream is reserved for its request's connection before the handler starts.
    // With `take_over`, a writer already attached is displaced (its next take() ends its response):
    // a client resuming with Last-Event-ID knows its old connection is dead even if the server does not.
    // `generation` receives this writer's identity, to pass to take/set_waker/detach.
    Attach attach(std::uint64_t after_seq, Waker waker = nullptr, bool take_over = false,
                  std::uint64_t* generation = nullptr);
    // The calls below ignore a writer that has been displaced (generation 0 = whoever is attached).
    void set_waker(Waker waker, std::uint64_t generation = 0);
    void detach(std::uint64_t generation = 0);

    struct Batch {
        std::vector<std::pair<std::uint64_t, Payload>> events;
        bool end_response = false;   // the writer ends its HTTP response after these events
    };
    // Events after `cursor` (advanced past them) and whether the response should end now.
    Batch take(std::uint64_t& cursor, std::uint64_t generation = 0);

    std::uint64_t last_seq() const;
    bool finished() const;
    bool cancelled() const;   // finished without a response (mark_cancelled)
    bool attached() const;
    Clock::time_point finished_at() const;
    std::size_t bytes() const;

private:
    void wake_locked();

    const std::uint32_t number_;
    const bool standalone_;
    const std::size_t max_events_;
    const std::size_t max_bytes_;
    mutable std::mutex mu_;
    std::deque<std::pair<std::uint64_t, Payload>> log_;
    std::size_t bytes_ = 0;
    std::uint64_t next_seq_ = 1;             // seq 0 is the priming event's position
    bool finished_ = false;
    bool cancelled_ = false;
    bool closed_ = false;
    bool close_connection_ = false;
    Clock::time_point finished_at_{};
    bool attached_ = false;
    std::uint64_t generation_ = 0;
    Waker waker_;
};

}  // namespace rollout_mcp::mcp
