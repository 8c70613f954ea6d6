// InFlightPlaces: the scheduler's in-memory caps and locks (server/sync/in_flight_places.hpp).
#include "server/sync/in_flight_places.hpp"

#include "server/app/metrics.hpp"

#include <algorithm>

namespace rollout_mcp {
namespace {

metrics::Family<metrics::Gauge>& in_flight_metric() {
    static auto& f = metrics::registry().gauge("rollout_mcp_sync_jobs_in_flight", "Outbox jobs being attempted now");
    return f;
}

}  // namespace

std::size_t InFlightPlaces::capacity() const {
    std::lock_guard lock(mu_);
    return settings_.max_in_flight - std::min(settings_.max_in_flight, held_);
}

std::vector<std::string> InFlightPlaces::take_due(const std::vector<storage::DueJob>& due, std::size_t capacity) {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& j : due) {
        if (out.size() >= capacity) break;
        const auto k = PlaceKey::of(j);
        if (running_.count(j.id) || !allows(k)) continue;
        take(k);
        out.push_back(j.id);
    }
    return out;
}

bool InFlightPlaces::allows(const PlaceKey& k) const {
    const auto team = per_team_.find(k.tenant_id);
    const auto crm = per_crm_.find(crm_key(k));
    const auto tk = tour_lock_of(k);
    return held_ < settings_.max_in_flight &&
           (team == per_team_.end() || team->second < settings_.per_team_in_flight) &&
           (crm == per_crm_.end() || crm->second < settings_.per_crm_in_flight) && !locks_.count(lock_of(k)) &&
           (tk.empty() || !locks_.count(tk));
}

void InFlightPlaces::take(const PlaceKey& k) {
    ++per_team_[k.tenant_id];
    ++per_crm_[crm_key(k)];
    locks_.insert(lock_of(k));
    if (auto tk = tour_lock_of(k); !tk.empty()) locks_.insert(tk);
    ++held_;
    in_flight_metric().with({}).set(static_cast<double>(held_));
}

void InFlightPlaces::give_back(const PlaceKey& k) {
    if (--per_team_[k.tenant_id] == 0) per_team_.erase(k.tenant_id);
    const auto ck = crm_key(k);
    if (--per_crm_[ck] == 0) per_crm_.erase(ck);
    locks_.erase(lock_of(k));
    if (auto tk = tour_lock_of(k); !tk.empty()) locks_.erase(tk);
    --held_;
    in_flight_metric().with({}).set(static_cast<double>(held_));
}

bool InFlightPlaces::reserve(const PlaceKey& key) {
    std::lock_guard lock(mu_);
    if (backlog_ || !allows(key)) return false;
    take(key);
    return true;
}

void InFlightPlaces::unreserve(const PlaceKey& key) {
    std::lock_guard lock(mu_);
    give_back(key);
}

void InFlightPlaces::hold(const storage::SyncJobInfo& job, bool reserved) {
    std::lock_guard lock(mu_);
    running_.insert(job.id);
    if (!reserved) take(PlaceKey::of(job));
}

void InFlightPlaces::release(const std::string& job_id, const PlaceKey& key) {
    std::lock_guard lock(mu_);
    running_.erase(job_id);
    give_back(key);
}

void InFlightPlaces::set_backlog(bool waiting) {
    std::lock_guard lock(mu_);
    backlog_ = waiting;
}

}  // namespace rollout_mcp
