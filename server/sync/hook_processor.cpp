// Processing of Rollout's webhook deliveries (see hook_processor.hpp). Event names are Rollout's
// `<entity>Created|Updated|Deleted` (/work/shared/research/rollout-api.md is summarized in docs/ARCHITECTURE.md,
// "Changes from the CRM"); only people, appointments, tasks and notes can concern records we synced.
#include "server/sync/hook_processor.hpp"

#include "server/sync/hook_mapping.hpp"

#include "base/use_nothrow.hpp"
#include "base/utc_time.hpp"
#include "server/app/log.hpp"
#include "server/app/metrics.hpp"
#include "rollout/crm_watch.hpp"
#include "rollout/errors.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <set>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

metrics::Family<metrics::Counter>& processed() {
    static auto& f = metrics::registry().counter(
        "rollout_mcp_webhooks_processed_total",
        "Stored Rollout webhook deliveries by result: changed (changes reported), echoed (only our own writes came "
        "back), ignored (nothing of ours), retried (a fetch failed; tried again later), deferred (a sync of ours was "
        "writing the same records), dropped (given up)",
        {"result"});
    return f;
}

using hook_mapping::Action;

struct Examined {
    bool retry = false;
    bool given_up = false;   // a permanent problem: processed as dropped
    bool deferred = false;   // retry: a sync of ours is writing these records right now (not a failure)
    std::string error;       // retry / given_up: why (no secrets)
    std::optional<std::chrono::seconds> retry_after;   // retry: when Rollout said to come back
    storage::HookEventResult result;
};

// Whether a sync attempt of ours is running on one of these tours or buyers (job tour_id / lock_key) in this
// CRM. Its writes are in the CRM before their watched state is in the ledger: reading them now would report our
// own write as the CRM's change, so the delivery waits for the attempt to finish.
bool ours_in_flight(storage::Storage& storage, const std::string& tenant, const std::string& crm_type,
                    const std::set<std::string>& tours, const std::set<std::string>& people) {
    storage::SyncJobQuery q;
    q.tenant_id = tenant;
    q.status = storage::JobStatus::running;
    q.limit = 1000;
    auto running = storage.find_sync_jobs(q);
    if (!running) return true;   // unknown: wait rather than risk reporting our own write
    for (const auto& j : *running)
        if (j.crm_type == crm_type && (tours.count(j.tour_id) || people.count(j.lock_key))) return true;
    return false;
}

}  // namespace

struct HookProcessor::State : std::enable_shared_from_this<State> {
    State(StorageExecutor& s, TeamRollout& t, HookProcessorSettings h, std::function<void()> c)
        : storage(s), teams(t), settings(h), changed(std::move(c)) {}
    StorageExecutor& storage;
    TeamRollout& teams;
    const HookProcessorSettings settings;
    const std::function<void()> changed;
    std::optional<asio::strand<asio::any_io_executor>> strand;
    std::optional<asio::steady_timer> timer;
    // Strand only: claimed deliveries per tenant, examined one at a time by that tenant's process_tenant.
    struct Queued {
        storage::ClaimedHookEvent event;
        std::chrono::steady_clock::time_point claimed;
    };
    std::map<std::string, std::deque<Queued>> queues;
    std::size_t queued = 0;
    std::atomic<bool> stopping{false};

    std::int64_t backoff(std::int64_t attempts) const {
        std::int64_t d = settings.backoff_base.count();
        for (std::int64_t i = 1; i < attempts && d < settings.backoff_max.count(); ++i) d *= 2;
        d = std::min<std::int64_t>(d, settings.backoff_max.count());
        return d / 2 + static_cast<std::int64_t>(randombytes_uniform(static_cast<std::uint32_t>(d / 2 + 1)));
    }
};

namespace {

using StatePtr = std::shared_ptr<HookProcessor::State>;

// Examines one delivery: fetches what it names and compares it with the ledger. Writes nothing.
asio::awaitable<Examined> examine(StatePtr s, const storage::ClaimedHookEvent& ev) {
    using namespace hook_mapping;
    Examined out;
    const auto entity = entity_event(ev.row.delivery.event);
    const auto ids = resource_ids(ev.row.delivery.resource_ids_json);
    if (!entity || ids.empty() || (entity->kind == "note" && entity->action != Action::created)) {
        out.result.outcome = "ignored";
        co_return out;
    }
    const std::string kind(entity->kind), collection(entity->collection), person_kind("person");
    const auto fail = [&](std::string why, bool retry) {
        out.retry = retry;
        out.given_up = !retry;
        out.error = std::move(why);
    };
    auto known = co_await s->storage.call(&storage::Storage::ledger_by_external_ids, ev.tenant_id, ev.row.crm_type,
                                          kind, ids);
    if (!known) {
        fail("ledger: " + known.error().message, true);
        co_return out;
    }
    // A note is ours when the ledger has it; another note matters when its person is in the ledger.
    if (kind != "note" && known->empty()) {
        out.result.outcome = "ignored";
        co_return out;
    }
    auto connection = co_await s->storage.call(&storage::Storage::get_crm_connection, ev.tenant_id, ev.row.crm_type);
    if (!connection) {
        fail("CRM connection: " + connection.error().message, connection.error().code != storage::ErrorCode::not_found);
        co_return out;
    }
    auto client = co_await s->teams.client(ev.tenant_id);
    if (!client) {
        fail("Rollout: " + client.error().message, client.error().code == storage::ErrorCode::busy);
        co_return out;
    }
    const std::string credential(connection->credential_key.text());
    const std::string ref = credential_ref(ev.credential_fingerprint);
    std::set<std::string> tours, people;   // what a running sync of ours could be writing (ours_in_flight)
    const auto touches = [&](std::string_view k, const std::string& local_id) {
        if (k == "person") people.insert(local_id);
        else tours.insert(local_id.substr(0, local_id.find('/')));
    };
    // A fetch error: a permanent one about this id alone skips it; anything else retries the whole delivery.
    const auto fetch_failed = [&](const Error& e, const std::string& what) {
        const auto k = rollout::kind_of(e);
        if (k == rollout::ErrorKind::validation || k == rollout::ErrorKind::permanent) {
            log::warning("webhook record skipped", {{"tenant", ev.tenant_id}, {"error", scrub(e.describe(), {credential})}});
            return false;
        }
        fail(what + ": " + scrub(e.describe(), {credential}), true);
        out.retry_after = e.retry_after;
        return true;
    };
    const auto record_change = [&](const rollout::ObservedChange& observed, std::string_view placed_kind,
                                   const std::string& local_id, const std::string& record_id, std::int64_t at_ms) {
        storage::CrmChange c;
        c.kind = observed.kind;
        place(c, placed_kind, local_id);
        c.fields_json = json::serialize(observed.fields);
        c.crm_type = ev.row.crm_type;
        c.credential_ref = ref;
        c.record_id = record_id;
        c.occurred_at_ms = at_ms > 0 ? at_ms : ev.row.received_at;
        out.result.changes.push_back(std::move(c));
    };
    if (kind == "note") {
        std::set<std::string> ours;
        for (const auto& e : *known) ours.insert(e.external_id);
        for (const auto& id : ids) {
            if (ours.count(id)) continue;   // a note we wrote, echoed back
            auto note = co_await (*client)->get_crm_record(credential, collection, id);
            if (!note) {
                if (fetch_failed(note.error(), "fetch note")) co_return out;
                continue;
            }
            if (!*note) continue;   // deleted since
            const auto* person_id = (*note)->data.if_contains("personId");
            const std::vector<std::string> person{person_id ? rollout::id_of(*person_id) : std::string()};
            if (person[0].empty()) continue;
            auto buyer = co_await s->storage.call(&storage::Storage::ledger_by_external_ids, ev.tenant_id,
                                                  ev.row.crm_type, person_kind, person);
            if (!buyer) {
                fail("ledger: " + buyer.error().message, true);
                co_return out;
            }
            if (buyer->empty()) continue;   // a note on somebody we never synced
            const auto who = group_by_record(*buyer).front().local_id;
            touches("person", who);
            record_change(rollout::note_added((*note)->data), "person", who, id, rollout::record_updated_ms((*note)->data));
        }
    } else {
        const auto records = group_by_record(*known);
        for (const auto& r : records) touches(kind, r.local_id);
        if (co_await s->storage.call(&ours_in_flight, ev.tenant_id, ev.row.crm_type, tours, people)) {
            out.retry = out.deferred = true;
            out.error = "a sync of these records is in flight";
            co_return out;
        }
        for (const auto& r : records) {
            std::optional<rollout::Record> record;
            if (entity->action != Action::deleted) {
                auto fetched = co_await (*client)->get_crm_record(credential, collection, r.external_id);
                if (!fetched) {
                    if (fetch_failed(fetched.error(), "fetch " + kind)) co_return out;
                    continue;
                }
                record = std::move(*fetched);
            }
            const json::object* now = record ? &record->data : nullptr;
            std::string state = now ? rollout::watched_state(kind, *now) : std::string(kDeletedState);
            if (now || r.state != kDeletedState)   // a deletion is reported once
                for (const auto& c : rollout::observe_change(kind, r.state, now))
                    record_change(c, kind, r.local_id, r.external_id, now ? rollout::record_updated_ms(*now) : 0);
            for (const auto& row : r.rows)
                if (row.crm_state != state) out.result.states.push_back({kind, row.local_id, row.crm_state, state});
        }
    }
    // Checked again after the reads: a sync that started meanwhile may have written what we just read.
    if (!out.result.changes.empty() && co_await s->storage.call(&ours_in_flight, ev.tenant_id, ev.row.crm_type, tours, people)) {
        out = Examined{};
        out.retry = out.deferred = true;
        out.error = "a sync of these records is in flight";
        co_return out;
    }
    out.result.outcome = "processed";
    co_return out;
}

// One delivery, claimed: examined, then finished in one transaction (or given back to be retried).
asio::awaitable<void> process(StatePtr s, storage::ClaimedHookEvent ev) {
    for (int round = 0; round < 3 && !s->stopping; ++round) {
        Examined e = co_await examine(s, ev);
        if (e.retry) {
            // A poll (synthetic, hook_upkeep.hpp) is not retried: the next round reads the same records again.
            const bool poll = ev.row.delivery.event_id.rfind("poll:", 0) == 0;
            const bool give_up = !e.deferred && (poll || ev.attempts + 1 >= s->settings.max_attempts);
            if (!give_up) {
                processed().with({e.deferred ? "deferred" : "retried"}).inc();
                if (!e.deferred)
                    log::warning("webhook delivery not processed yet",
                                 {{"tenant", ev.tenant_id}, {"event", ev.row.delivery.event}, {"error", e.error}});
                // Deferrals count as attempts too (retry_hook_event): they back off to 30 s, so a long sync of
                // ours uses few of them.
                std::int64_t wait = e.deferred ? std::min<std::int64_t>(s->settings.defer.count() << std::min<std::int64_t>(ev.attempts, 4), 30'000)
                                               : s->backoff(ev.attempts + 1);
                if (e.retry_after) wait = std::max<std::int64_t>(wait, e.retry_after->count() * 1000);
                const std::int64_t at = unix_now_ms() + wait;
                auto r = co_await s->storage.call(&storage::Storage::retry_hook_event, ev.row.id, ev.claim_token, at,
                                                  e.error);
                (void)r;
                co_return;
            }
            e.given_up = true;
        }
        if (e.given_up) {
            processed().with({"dropped"}).inc();
            log::warning("webhook delivery given up",
                         {{"tenant", ev.tenant_id}, {"event", ev.row.delivery.event}, {"error", e.error}});
            e.result = {};
            e.result.outcome = "dropped: " + hook_mapping::utf8_prefix(e.error, 200);
        }
        const std::size_t states = e.result.states.size();
        auto finished = co_await s->storage.call(&storage::Storage::finish_hook_event, ev.row.id, ev.claim_token,
                                                 e.result, unix_now_ms());
        if (!finished) {
            log::warning("webhook delivery not recorded", {{"tenant", ev.tenant_id}, {"error", finished.error().message}});
            co_return;   // the lease lapses and the delivery is examined again
        }
        using Status = storage::FinishedHookEvent::Status;
        if (finished->status == Status::claim_lost) co_return;
        if (finished->status == Status::state_moved) continue;   // another instance got there first: look again
        if (e.given_up) co_return;
        if (!finished->changes.empty()) {
            processed().with({"changed"}).inc();
            log::info("CRM changes recorded", {{"tenant", ev.tenant_id}, {"event", ev.row.delivery.event},
                                               {"changes", static_cast<std::int64_t>(finished->changes.size())}});
            if (s->changed) s->changed();
        } else {
            processed().with({e.result.outcome == "ignored" ? "ignored" : states > 0 ? "changed" : "echoed"}).inc();
        }
        co_return;
    }
}

// A tenant's claimed deliveries, one at a time in id order (so a record's changes keep their order), until its
// queue is empty; then the tenant is free again.
asio::awaitable<void> process_tenant(StatePtr s, std::string tenant) {
    for (;;) {
        auto& queue = s->queues[tenant];
        if (queue.empty() || s->stopping) break;
        HookProcessor::State::Queued next = std::move(queue.front());
        queue.pop_front();
        --s->queued;
        // A claim that waited here half its lease is left to lapse: another round claims it afresh.
        if (std::chrono::steady_clock::now() - next.claimed > s->settings.lease / 2) continue;
        co_await process(s, std::move(next.event));
    }
    s->queued -= s->queues[tenant].size();
    s->queues.erase(tenant);
}

asio::awaitable<void> scan_loop(StatePtr s) {
    // SQLite: deliveries a killed process had claimed are taken up now, not when their lease ends (minutes).
    auto released = co_await s->storage.call(&storage::Storage::release_interrupted_hook_claims, unix_now_ms());
    if (!released) log::warning("cannot release interrupted webhook claims", {{"error", released.error().message}});
    if (released && *released > 0)
        log::warning("took up webhook deliveries interrupted by the previous stop",
                     {{"count", static_cast<std::int64_t>(*released)}});
    while (!s->stopping) {
        bool more = false;
        if (s->queued < s->settings.batch) {   // claims wait in memory only briefly: their leases are running
            auto claimed = co_await s->storage.call(&storage::Storage::claim_hook_events, unix_now_ms(),
                                                    static_cast<std::int64_t>(s->settings.lease.count()),
                                                    s->settings.batch - s->queued);
            if (!claimed) log::warning("cannot claim webhook deliveries", {{"error", claimed.error().message}});
            if (claimed) {
                more = !claimed->empty() && claimed->size() == s->settings.batch - s->queued;
                for (auto& ev : *claimed) {
                    const bool idle = !s->queues.count(ev.tenant_id);
                    const std::string tenant = ev.tenant_id;
                    s->queues[tenant].push_back({std::move(ev), std::chrono::steady_clock::now()});
                    ++s->queued;
                    if (idle) asio::co_spawn(*s->strand, process_tenant(s, tenant), asio::detached);
                }
            }
        }
        s->timer->expires_after(more ? std::chrono::milliseconds(50) : s->settings.poll);
        co_await s->timer->async_wait(use_nothrow);
    }
}

}  // namespace

HookProcessor::HookProcessor(StorageExecutor& storage, TeamRollout& teams, HookProcessorSettings settings,
                             std::function<void()> changed)
    : state_(std::make_shared<State>(storage, teams, settings, std::move(changed))) {}

HookProcessor::~HookProcessor() { stop(); }

void HookProcessor::start(asio::any_io_executor io) {
    state_->strand.emplace(asio::make_strand(io));
    state_->timer.emplace(*state_->strand);
    asio::co_spawn(*state_->strand, scan_loop(state_), asio::detached);
}

void HookProcessor::stop() {
    state_->stopping = true;
    wake();
}

void HookProcessor::wake() {
    if (!state_->strand) return;
    asio::post(*state_->strand, [s = state_] { s->timer->cancel(); });
}

void trim_change_state(storage::Storage& s, std::chrono::seconds change_max_age) {
    const auto now = unix_now_ms();
    const auto ms = [](auto d) { return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
    for (int step = 0; step < 20; ++step) {
        auto n = s.trim_crm_changes(now - ms(change_max_age), 500);
        if (!n) log::warning("cannot trim the change log", {{"error", n.error().message}});
        if (!n || *n == 0) break;
    }
    if (auto r = s.purge_expired_event_subscriptions(now); !r)
        log::warning("cannot purge expired event subscriptions", {{"error", r.error().message}});
    for (int step = 0; step < 20; ++step) {
        auto n = s.trim_hook_inbox(now - ms(kKeepProcessedDeliveries), 500);
        if (!n) log::warning("cannot trim the webhook inbox", {{"error", n.error().message}});
        if (!n || *n == 0) break;
    }
}

}  // namespace rollout_mcp
