// Fixture for the sync-outbox tests: a store with two tenants and helpers to enqueue jobs.
#pragma once

#include "tests/storage/storage_fixture.hpp"

#include <functional>
#include <string>
#include <vector>

namespace rollout_mcp::storage::test {

using Next = AttemptOutcome::Next;

// Builders instead of designated initializers, which GCC's -Wmissing-field-initializers rejects.
struct Q {
    SyncJobQuery q;
    Q& tenant(std::string v) { q.tenant_id = std::move(v); return *this; }
    Q& job(std::string v) { q.job_id = std::move(v); return *this; }
    Q& tour(std::string v) { q.tour_id = std::move(v); return *this; }
    Q& subject(std::string v) { q.subject = std::move(v); return *this; }
    Q& kind(std::string v) { q.kind = std::move(v); return *this; }
    Q& status(JobStatus v) { q.status = v; return *this; }
    Q& limit(std::size_t v) { q.limit = v; return *this; }
    operator const SyncJobQuery&() const { return q; }
};

struct Outcome {
    AttemptOutcome o;
    explicit Outcome(Next next) { o.next = next; }
    Outcome& at(std::int64_t ms) { o.next_attempt_at_ms = ms; return *this; }
    Outcome& error(std::string v) { o.error = std::move(v); return *this; }
    Outcome& http(unsigned v) { o.http_status = v; return *this; }
    Outcome& recover(bool v) { o.recover = v; return *this; }
    Outcome& result(std::string v) { o.result_json = std::move(v); return *this; }
    Outcome& ledger(std::vector<LedgerEntry> v) { o.ledger = std::move(v); return *this; }
    operator const AttemptOutcome&() const { return o; }
};

class Outbox : public TwoTeamsTest {
protected:

    static NewSyncJob job(const std::string& subject, const std::string& crm = "hubspot",
                          const std::string& payload = R"({"client":"x"})") {
        const std::string tour = subject.substr(0, subject.find('/'));
        return NewSyncJob{crm, "tour", subject, tour, subject, payload};
    }

    static std::vector<unsigned char> hash(unsigned char fill) { return std::vector<unsigned char>(32, fill); }

    std::vector<std::string> enqueue(const Tenant& t, std::vector<NewSyncJob> jobs, std::int64_t now_ms) {
        auto r = store->enqueue_sync(SyncRequest{t.id, std::nullopt, {}, std::move(jobs)}, now_ms);
        if (!r) throw std::runtime_error(r.error().message);
        return r->job_ids;
    }

    // Claims and finishes one job with `next` at `now_ms`.
    SyncJobInfo settle(const std::string& id, Next next, std::int64_t now_ms) {
        auto c = store->claim_sync_jobs({id}, now_ms, now_ms + 60'000);
        if (!c || c->size() != 1) throw std::runtime_error("claim failed for " + id);
        auto f = store->finish_sync_attempt(id, c->front().claim_token, Outcome(next).error("boom"), now_ms);
        if (!f) throw std::runtime_error(f.error().message);
        return *f;
    }

};

}  // namespace rollout_mcp::storage::test
