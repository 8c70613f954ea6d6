// A bounded, resumable SSE event log with one attached writer.
#include "server/mcp/event_stream.hpp"

namespace rollout_mcp::mcp {

EventStream::EventStream(std::uint32_t number, bool standalone, std::size_t max_events, std::size_t max_bytes)
    : number_(number), standalone_(standalone), max_events_(max_events), max_bytes_(max_bytes) {}

void EventStream::wake_locked() {
    if (attached_ && waker_) waker_();
}

void EventStream::append(std::string json, bool final) {
    std::lock_guard lock(mu_);
    if (closed_ || finished_) return;
    bytes_ += json.size();
    log_.emplace_back(next_seq_++, std::make_shared<const std::string>(std::move(json)));
    // Bounded: the oldest events go first; a client resuming from before them gets "too old".
    while (log_.size() > 1 && (log_.size() > max_events_ || bytes_ > max_bytes_)) {
        bytes_ -= log_.front().second->size();
        log_.pop_front();
    }
    if (final) {
        finished_ = true;
        finished_at_ = Clock::now();
    }
    wake_locked();
}

void EventStream::request_connection_close() {
    std::lock_guard lock(mu_);
    if (!attached_) return;
    close_connection_ = true;
    wake_locked();
}

void EventStream::mark_cancelled() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (!finished_) {
        finished_ = true;   // nothing more will be appended; kept only for replay
        finished_at_ = Clock::now();
    }
    wake_locked();
}

void EventStream::close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    if (!finished_) finished_at_ = Clock::now();
    finished_ = true;
    wake_locked();
}

EventStream::Attach EventStream::attach(std::uint64_t after_seq, Waker waker, bool take_over,
                                        std::uint64_t* generation) {
    std::lock_guard lock(mu_);
    if (closed_) return Attach::gone;
    if (attached_ && !take_over) return Attach::busy;
    if (after_seq >= next_seq_) return Attach::too_old;   // an id this stream never issued
    const std::uint64_t oldest = log_.empty() ? next_seq_ : log_.front().first;
    if (after_seq + 1 < oldest) return Attach::too_old;   // events after it were dropped
    if (attached_ && waker_) waker_();                    // the displaced writer sees a stale generation
    attached_ = true;
    close_connection_ = false;
    waker_ = std::move(waker);
    ++generation_;
    if (generation) *generation = generation_;
    return Attach::ok;
}

void EventStream::set_waker(Waker waker, std::uint64_t generation) {
    std::lock_guard lock(mu_);
    if (generation && generation != generation_) return;
    waker_ = std::move(waker);
}

void EventStream::detach(std::uint64_t generation) {
    std::lock_guard lock(mu_);
    if (generation && generation != generation_) return;
    attached_ = false;
    close_connection_ = false;
    waker_ = nullptr;
}

EventStream::Batch EventStream::take(std::uint64_t& cursor, std::uint64_t generation) {
    std::lock_guard lock(mu_);
    Batch batch;
    if (generation && generation != generation_) {
        batch.end_response = true;   // displaced by a resuming client
        return batch;
    }
    for (const auto& entry : log_) {
        if (entry.first > cursor) {
            batch.events.push_back(entry);
            cursor = entry.first;
        }
    }
    const bool delivered_all = cursor + 1 >= next_seq_;
    if (closed_ || close_connection_) batch.end_response = true;
    // A cancelled request's stream stays open (keep-alives) so the client does not poll it forever.
    if (finished_ && !cancelled_ && delivered_all) batch.end_response = true;
    close_connection_ = false;
    return batch;
}

std::uint64_t EventStream::last_seq() const {
    std::lock_guard lock(mu_);
    return next_seq_ - 1;
}

bool EventStream::finished() const {
    std::lock_guard lock(mu_);
    return finished_;
}

bool EventStream::cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
}

bool EventStream::attached() const {
    std::lock_guard lock(mu_);
    return attached_;
}

EventStream::Clock::time_point EventStream::finished_at() const {
    std::lock_guard lock(mu_);
    return finished_at_;
}

std::size_t EventStream::bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
}

}  // namespace rollout_mcp::mcp
