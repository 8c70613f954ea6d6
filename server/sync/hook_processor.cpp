// Processing of Rollout's webhook deliveries (see hook_processor.hpp). Event names are Rollout's
// `<entity>Created|Updated|Deleted` (/work/shared/research/rollout-api.md is summarized in docs/ARCHITECTURE.md,
// "Changes from the CRM"); only people, appointments, tasks and notes can concern records we synced.
#include "server/sync/hook_processor.hpp"

#include "base/use_nothrow.hpp"
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
        "back), ignored (nothing of ours), retried (a fetch failed; tried again later), dropped (given up)",
        {"result"});
    return f;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

enum class Action { created, updated, deleted };

struct EntityEvent {
    std::string_view kind;         // the ledger's entity kind
    std::string_view collection;   // the CRM API's collection
    Action action = Action::updated;
};

std::optional<EntityEvent> entity_event(std::string_view event) {
    static constexpr std::array<std::array<std::string_view, 3>, 4> kEntities{{{"people", "person", "people"},
                                                                               {"appointments", "appointment", "appointments"},
                                                                               {"tasks", "task", "tasks"},
                                                                               {"notes", "note", "notes"}}};
    for (const auto& [prefix, kind, collection] : kEntities) {
        if (event.substr(0, prefix.size()) != prefix) continue;
        const auto rest = event.substr(prefix.size());
        if (rest == "Created") return EntityEvent{kind, collection, Action::created};
        if (rest == "Updated") return EntityEvent{kind, collection, Action::updated};
        if (rest == "Deleted") return EntityEvent{kind, collection, Action::deleted};
    }
    return std::nullopt;
}

// The delivery's resourceIds (validated on receipt: a JSON array), as strings, without repeats, in order.
std::vector<std::string> resource_ids(std::string_view text) {
    std::vector<std::string> out;
    boost::system::error_code ec;
    const auto v = json::parse(text, ec);
    if (ec || !v.is_array()) return out;
    std::set<std::string> seen;
    for (const auto& item : v.get_array()) {
        std::string id;
        if (item.is_string()) id = std::string(item.get_string());
        else if (item.is_int64()) id = std::to_string(item.get_int64());
        else if (item.is_uint64()) id = std::to_string(item.get_uint64());
        if (!id.empty() && id.size() <= 200 && seen.insert(id).second) out.push_back(std::move(id));
    }
    return out;
}

// A non-secret reference to the CRM credential: the start of its keyed fingerprint, never the id itself.
std::string credential_ref(const std::vector<unsigned char>& fingerprint) {
    const std::size_t n = std::min<std::size_t>(fingerprint.size(), 6);
    std::string hex(2 * n + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), fingerprint.data(), n);
    hex.pop_back();
    return "cred_" + hex;
}

// Ledger local ids (rollout/adapters/adapter.hpp, SyncRecord): a buyer id or "tour-<tour>" placeholder for a
// person; "<tour>/<property>" for a visit's appointment or task.
void place(storage::CrmChange& c, std::string_view kind, const std::string& local_id) {
    if (kind == "person") {
        if (local_id.rfind("tour-", 0) == 0) c.tour_id = local_id.substr(5);
        else c.buyer_id = local_id;
        return;
    }
    c.visit_id = local_id;
    c.tour_id = local_id.substr(0, local_id.find('/'));
}

struct Examined {
    bool retry = false;
    bool given_up = false;   // a permanent problem: processed as dropped
    std::string error;       // retry / given_up: why (no secrets)
    storage::HookEventResult result;
};

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
    std::map<std::string, std::deque<storage::ClaimedHookEvent>> queues;
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
    Examined out;
    const auto entity = entity_event(ev.row.delivery.event);
    const auto ids = resource_ids(ev.row.delivery.resource_ids_json);
    if (!entity || ids.empty() || (entity->kind == "note" && entity->action != Action::created)) {
        out.result.outcome = "ignored";
        co_return out;
    }
    const std::string kind(entity->kind);
    const std::string collection(entity->collection);
    auto known = co_await s->storage.call(&storage::Storage::ledger_by_external_ids, ev.tenant_id, ev.row.crm_type,
                                          kind, ids);
    if (!known) {
        out.retry = true;
        out.error = "ledger: " + known.error().message;
        co_return out;
    }
    // A note is ours when the ledger has it; another note matters when its person is in the ledger.
    if (kind != "note" && known->empty()) {
        out.result.outcome = "ignored";
        co_return out;
    }
    auto connection = co_await s->storage.call(&storage::Storage::get_crm_connection, ev.tenant_id, ev.row.crm_type);
    if (!connection) {
        out.retry = connection.error().code != storage::ErrorCode::not_found;
        out.given_up = !out.retry;
        out.error = "CRM connection: " + connection.error().message;
        co_return out;
    }
    auto client = co_await s->teams.client(ev.tenant_id);
    if (!client) {
        out.retry = client.error().code == storage::ErrorCode::busy;
        out.given_up = !out.retry;
        out.error = "Rollout: " + client.error().message;
        co_return out;
    }
    const std::string credential(connection->credential_key.text());
    const std::string ref = credential_ref(ev.credential_fingerprint);
    const auto record_change = [&](const rollout::ObservedChange& observed, const std::string& local_id,
                                   const std::string& record_id, std::int64_t occurred_at_ms) {
        storage::CrmChange c;
        c.kind = observed.kind;
        place(c, kind == "note" ? "person" : kind, local_id);
        c.fields_json = json::serialize(observed.fields);
        c.crm_type = ev.row.crm_type;
        c.credential_ref = ref;
        c.record_id = record_id;
        c.occurred_at_ms = occurred_at_ms > 0 ? occurred_at_ms : ev.row.received_at;
        out.result.changes.push_back(std::move(c));
    };
    if (kind == "note") {
        std::set<std::string> ours;
        for (const auto& e : *known) ours.insert(e.external_id);
        for (const auto& id : ids) {
            if (ours.count(id)) continue;   // a note we wrote, echoed back
            auto note = co_await (*client)->get_crm_record(credential, collection, id);
            if (!note) {
                out.retry = true;
                out.error = "fetch note: " + note.error().describe();
                co_return out;
            }
            if (!*note) continue;   // deleted since
            const std::string person = rollout::id_of((*note)->data.contains("personId") ? (*note)->data.at("personId")
                                                                                         : json::value());
            if (person.empty()) continue;
            const std::vector<std::string> people{person};
            auto buyer = co_await s->storage.call(&storage::Storage::ledger_by_external_ids, ev.tenant_id,
                                                  ev.row.crm_type, std::string("person"), people);
            if (!buyer) {
                out.retry = true;
                out.error = "ledger: " + buyer.error().message;
                co_return out;
            }
            if (buyer->empty()) continue;   // a note on somebody we never synced
            record_change(rollout::note_added((*note)->data), buyer->front().local_id, id,
                          rollout::record_updated_ms((*note)->data));
        }
    } else {
        for (const auto& entry : *known) {
            std::optional<rollout::Record> record;
            if (entity->action != Action::deleted) {
                auto fetched = co_await (*client)->get_crm_record(credential, collection, entry.external_id);
                if (!fetched) {
                    out.retry = true;
                    out.error = "fetch " + kind + ": " + fetched.error().describe();
                    co_return out;
                }
                record = std::move(*fetched);
            }
            const json::object* now = record ? &record->data : nullptr;
            const auto changes = rollout::observe_change(kind, entry.crm_state, now);
            for (const auto& c : changes)
                record_change(c, entry.local_id, entry.external_id, now ? rollout::record_updated_ms(*now) : 0);
            std::string state = now ? rollout::watched_state(kind, *now) : std::string();
            if (now && state != entry.crm_state)
                out.result.states.push_back({kind, entry.local_id, entry.crm_state, std::move(state)});
        }
    }
    out.result.outcome = "processed";
    co_return out;
}

// One delivery, claimed: examined, then finished in one transaction (or given back to be retried).
asio::awaitable<void> process(StatePtr s, storage::ClaimedHookEvent ev) {
    for (int round = 0; round < 3 && !s->stopping; ++round) {
        Examined e = co_await examine(s, ev);
        if (e.retry) {
            const bool give_up = ev.attempts + 1 >= s->settings.max_attempts;
            if (!give_up) {
                processed().with({"retried"}).inc();
                log::warning("webhook delivery not processed yet",
                             {{"tenant", ev.tenant_id}, {"event", ev.row.delivery.event}, {"error", e.error}});
                const std::int64_t at = now_ms() + s->backoff(ev.attempts + 1);
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
            e.result.outcome = "dropped: " + e.error.substr(0, 200);
        }
        const std::size_t states = e.result.states.size();
        auto finished = co_await s->storage.call(&storage::Storage::finish_hook_event, ev.row.id, ev.claim_token,
                                                 e.result, now_ms());
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
        storage::ClaimedHookEvent ev = std::move(queue.front());
        queue.pop_front();
        --s->queued;
        co_await process(s, std::move(ev));
    }
    s->queued -= s->queues[tenant].size();
    s->queues.erase(tenant);
}

asio::awaitable<void> scan_loop(StatePtr s) {
    while (!s->stopping) {
        bool more = false;
        if (s->queued < s->settings.batch) {   // claims wait in memory only briefly: their leases are running
            auto claimed = co_await s->storage.call(&storage::Storage::claim_hook_events, now_ms(),
                                                    static_cast<std::int64_t>(s->settings.lease.count()),
                                                    s->settings.batch - s->queued);
            if (!claimed) log::warning("cannot claim webhook deliveries", {{"error", claimed.error().message}});
            if (claimed) {
                more = !claimed->empty() && claimed->size() == s->settings.batch - s->queued;
                for (auto& ev : *claimed) {
                    const bool idle = !s->queues.count(ev.tenant_id);
                    const std::string tenant = ev.tenant_id;
                    s->queues[tenant].push_back(std::move(ev));
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
    const auto now = now_ms();
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
