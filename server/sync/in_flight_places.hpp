// The outbox worker's places for running jobs, in memory: the in-flight caps (all teams, per team, per team and
// CRM) and the tour and buyer locks, so the scheduler claims only what the store will accept. The store checks the
// same rules on every claim (storage/sql_outbox_claims.cpp); this copy spares it claims it would refuse. Thread-safe.
#pragma once

#include "server/app/config.hpp"
#include "storage/outbox.hpp"

#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace rollout_mcp {

// What a place is held for: a job's team, CRM, buyer lock key and tour.
struct PlaceKey {
    std::string tenant_id;
    std::string crm_type;
    std::string lock_key;
    std::string tour_id;
    static PlaceKey of(const storage::DueJob& j) { return {j.tenant_id, j.crm_type, j.lock_key, j.tour_id}; }
    static PlaceKey of(const storage::SyncJobInfo& j) { return {j.tenant_id, j.crm_type, j.lock_key, j.tour_id}; }
};

class InFlightPlaces {
public:
    explicit InFlightPlaces(const SyncSettings& settings) : settings_(settings) {}

    // Free places now (max_in_flight minus the places held).
    std::size_t capacity() const;
    // Due jobs the caps and locks allow, at most `capacity`, in the store's fair order; their places are held from
    // now (hold(job, true) once claimed, unreserve otherwise), so a reservation cannot take them meanwhile.
    std::vector<std::string> take_due(const std::vector<storage::DueJob>& due, std::size_t capacity);
    // A place for a job about to be enqueued (its id is not known yet): false when a cap or lock refuses, or when
    // due jobs are waiting for a place (backlog): a new job never takes a place before them.
    bool reserve(const PlaceKey& key);
    void unreserve(const PlaceKey& key);   // a reserved place that was not used
    // A claimed job: `reserved` when its place was reserved before its id was known, else a place is taken now.
    void hold(const storage::SyncJobInfo& job, bool reserved = false);
    void release(const storage::SyncJobInfo& job) { release(job.id, PlaceKey::of(job)); }
    void release(const std::string& job_id, const PlaceKey& key);
    // The scheduler's last scan left due jobs waiting for a free place (true), or took all it was offered.
    void set_backlog(bool waiting);

private:
    static std::string crm_key(const PlaceKey& k) { return k.tenant_id + '\n' + k.crm_type; }
    // A job holds its buyer lock and its tour (the store enforces the same rule on every claim).
    static std::string lock_of(const PlaceKey& k) { return k.tenant_id + '\n' + k.crm_type + "\nb\n" + k.lock_key; }
    static std::string tour_lock_of(const PlaceKey& k) {
        return k.tour_id.empty() ? std::string() : k.tenant_id + '\n' + k.crm_type + "\nt\n" + k.tour_id;
    }
    bool allows(const PlaceKey& k) const;   // mu_ held
    void take(const PlaceKey& k);           // mu_ held
    void give_back(const PlaceKey& k);      // mu_ held

    const SyncSettings& settings_;
    mutable std::mutex mu_;
    std::set<std::string> running_;
    std::map<std::string, std::size_t> per_team_, per_crm_;
    std::set<std::string> locks_;
    std::size_t held_ = 0;
    bool backlog_ = false;
};

}  // namespace rollout_mcp
