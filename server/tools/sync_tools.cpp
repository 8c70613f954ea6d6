// sync_tour_data and sync_feedback_data: validate against the limits table, drop unknown fields (listed
// in ignoredFields), store the normalized payload once with one outbox job per target CRM in one
// transaction, then wait (bounded) for each job's first attempt with progress per CRM, or return the
// queued job ids.
#include "server/tools/json_canonical.hpp"
#include "base/use_nothrow.hpp"
#include "server/tools/rollout_tools.hpp"

#include "server/sync/sync_job_view.hpp"
#include "server/tools/sync_tasks.hpp"
#include "server/sync/sync_runner.hpp"
#include "server/sync/enqueue_batch.hpp"
#include "server/sync/sync_worker.hpp"

#include "server/sync/crm_model.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <map>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace tool_results;

namespace {

// Keys sorted at every level, so a client that reorders fields still matches its idempotency key.
std::vector<unsigned char> arguments_hash(const std::string& tool, json::object args) {
    args.erase("wait");
    args.erase("idempotencyKey");
    return canonical_hash(tool, args);
}

// The connected CRMs a call targets: one connector key (must be connected) or "all" connected ones.
asio::awaitable<Result<std::vector<std::string>>> targets_for(TeamRollout& team, const std::string& tenant,
                                                              rollout::RolloutClient& client,
                                                              const std::string& requested) {
    const auto crm_type = rollout::canonical_crm_type(requested.empty() ? "all" : requested);
    auto config = co_await team.config(tenant);   // the same cached read client() made just before
    if (!config) {
        Error failed = std::move(config).error();
        failed.message = "cannot read this team's connections: " + failed.message;
        co_return failed;
    }
    std::vector<std::string> out;
    for (const auto& c : (*config)->connections)
        if (crm_type == "all" || c.info.crm_type == crm_type) out.push_back(c.info.crm_type);
    if (!out.empty()) co_return out;
    if (crm_type == "all")
        co_return invalid_argument("crmType: no CRM is connected for this team; call configure_crm_connection first");
    auto connectors = co_await team.connectors(tenant, client);
    bool known = !connectors;   // when Rollout cannot be asked, do not claim the key is unknown
    if (connectors)
        for (const auto& c : *connectors) known = known || (c.crm && c.key == crm_type);
    co_return invalid_argument(
        known ? "crmType: \"" + crm_type + "\" is not connected for this team; call configure_crm_connection first"
              : "crmType: \"" + crm_type + "\" is not a CRM connector in Rollout (see list_available_crms)");
}

// The first attempts a waiting sync call hears of, on the call's strand.
struct FirstAttempts {
    explicit FirstAttempts(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;                                  // cancelled by each report
    std::map<std::string, storage::SyncJobInfo> attempted;     // job id -> as its attempt left it
    std::shared_ptr<void> watch;                               // SyncWorker::watch_scoped's handle
};

// What the worker tells a watch: a finished attempt or a final job (a cancel fails a job never attempted), posted to
// the call's strand. Watchers also hear of changes that are not an attempt (a re-read, a claim): those are ignored.
SyncWorker::Listener first_attempt_listener(const std::shared_ptr<FirstAttempts>& waiter, asio::any_io_executor executor) {
    return [weak = std::weak_ptr<FirstAttempts>(waiter), executor](const storage::SyncJobInfo& info) {
        const bool final = info.status == storage::JobStatus::succeeded || info.status == storage::JobStatus::failed ||
                           info.status == storage::JobStatus::dead;
        if (!final && (info.attempts == 0 || info.status == storage::JobStatus::running)) return;
        asio::post(executor, [weak, info] {
            if (auto w = weak.lock()) {
                w->attempted[info.id] = info;
                w->timer.cancel();
            }
        });
    };
}

// Only another instance's attempt (PostgreSQL), heard of before the watch began, can go unannounced: the store is
// asked once after this long rather than at once, which would cost every sync call a storage trip.
constexpr std::chrono::milliseconds kCatchUpRead{2'000};

// Waits until every job has finished its first attempt or the bound passes, reporting progress per CRM; the jobs as
// their attempts left them are in waiter->attempted. `replayed`: the jobs may have been attempted long ago (an
// idempotent replay), so the store is asked at once.
asio::awaitable<void> wait_for_first_attempts(const SyncToolsDeps& deps, ToolContext& ctx, FirstAttempts& waiter,
                                              const std::vector<std::string>& ids, const std::string& what,
                                              bool replayed) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + deps.wait;
    const auto catch_up = replayed ? start : std::min(deadline, start + kCatchUpRead);
    bool caught_up = false;
    std::set<std::string> reported;
    const double total = static_cast<double>(ids.size());
    ctx.progress(0, total, what + ": queued for " + std::to_string(ids.size()) + " CRM(s)");
    for (;;) {
        for (const auto& [id, info] : waiter.attempted)
            if (reported.insert(id).second)
                ctx.progress(static_cast<double>(reported.size()), total, info.crm_type + ": " + job_outcome(info));
        const auto now = std::chrono::steady_clock::now();
        if (reported.size() >= ids.size() || now >= deadline) break;
        if (!caught_up && now >= catch_up) {   // attempts that finished before the watch began
            caught_up = true;
            auto current = co_await deps.team->storage().call(&read_jobs, ctx.tenant(), ids);
            if (current)
                for (auto& j : *current)
                    if (j.attempts > 0 && j.status != storage::JobStatus::running && !waiter.attempted.count(j.id))
                        waiter.attempted[j.id] = std::move(j);
            continue;
        }
        waiter.timer.expires_at(caught_up ? deadline : catch_up);
        co_await waiter.timer.async_wait(use_nothrow);
    }
}

struct SyncCall {
    std::string tool;    // sync_tour_data | sync_feedback_data
    std::string kind;    // tour | feedback
    std::string what;    // "tour T1", for messages
    std::string subject, tour_id, lock_key;
    std::string payload_json;          // the normalized payload (rollout::to_json), shared by every job
    std::vector<std::string> ignored;  // unknown fields dropped from it
    std::vector<std::string> warnings; // e.g. a local time that occurs twice (DST overlap): the earlier was used
};

asio::awaitable<ToolResult> accept_sync(SyncToolsDeps deps, ToolContext& ctx, const json::object& args, SyncCall call) {
    // The same table bounds these as the schema does (checked here too: the schema is the client's promise).
    for (const char* name : {"crmType", "idempotencyKey"}) {
        const auto* v = args.if_contains(name);
        if (!v || !v->is_string()) continue;
        if (auto problem = rollout::limits::check_text(*rollout::limits::find(name), v->get_string()))
            co_return failure(std::string(name) + ": " + *problem);
    }
    auto client_or = co_await deps.team->client(ctx.tenant());
    if (!client_or) co_return failure(client_or.error().message);
    const auto* crm = args.if_contains("crmType");
    const std::string requested = crm && crm->is_string() ? std::string(crm->get_string()) : "all";
    auto targets_or = co_await targets_for(*deps.team, ctx.tenant(), *client_or.value(), requested);
    if (!targets_or) co_return failure(targets_or.error().message);

    storage::SyncRequest request;
    request.tenant_id = ctx.tenant();
    if (const auto* key = args.if_contains("idempotencyKey"); key && key->is_string()) {
        request.idempotency_key = std::string(key->get_string());
        request.args_hash = arguments_hash(call.tool, args);
    }
    for (const auto& crm_type : *targets_or)
        request.jobs.push_back({crm_type, call.kind, call.subject, call.tour_id, call.lock_key, std::string()});
    request.payload_json = std::move(call.payload_json);   // stored once for all of them
    const std::string idempotency_key = request.idempotency_key.value_or(std::string());   // request moves below
    request.traceparent = ctx.call().trace.traceparent;     // validated W3C syntax, or ""
    request.tracestate = ctx.call().trace.tracestate;
    const auto* wait = args.if_contains("wait");
    const bool waits = !ctx.call().tasks && (!wait || !wait->is_bool() || wait->get_bool()) && deps.wait.count() > 0;
    std::shared_ptr<FirstAttempts> waiter;
    SyncWorker::Listener listener;
    const auto home = co_await asio::this_coro::executor;   // the attempts run on this call's I/O thread
    if (waits) {
        waiter = std::make_shared<FirstAttempts>(home);
        listener = first_attempt_listener(waiter, home);
    }
    // A task's jobs are left to the scheduler, woken once the task exists (start_sync_task), as before claims at enqueue.
    EnqueueCall enqueue{std::move(request), std::move(listener), deps.worker->watcher(),
                        ctx.call().tasks ? SyncWorker::Intake{} : deps.worker->intake(home)};
    auto accepted = co_await deps.worker->accepting().enqueue(std::move(enqueue), ctx.tenant());   // the team's lane
    if (!accepted) {
        if (accepted.error().code == storage::ErrorCode::already_exists) co_return failure(accepted.error().message);
        if (accepted.error().code == storage::ErrorCode::limit_exceeded)
            co_return failure("cannot accept the sync now: " + accepted.error().message, {{"retryable", true}});
        co_return failure("cannot accept the sync: " + accepted.error().message);
    }
    const auto& ids = accepted->accepted.job_ids;
    const bool replayed = accepted->accepted.replayed;
    if (ctx.call().tasks) {   // the client polls the task: no waiting here; the worker is woken once it exists
        const SyncTaskContext context{call.what, replayed, call.ignored, call.warnings};
        co_return co_await start_sync_task(deps, ctx.tenant(), ids, context, idempotency_key);
    }
    if (!accepted->all_started) deps.worker->wake();   // some jobs wait in the queue
    if (waiter) {
        waiter->watch = std::move(accepted->watch);   // unwatched when the call ends, however it ends
        co_await wait_for_first_attempts(deps, ctx, *waiter, ids, call.what, replayed);
    }
    // Every job reported as its attempt left it: that is the answer, with no further read.
    Result<std::vector<storage::SyncJobInfo>> jobs{std::vector<storage::SyncJobInfo>{}};
    if (waiter)
        for (const auto& id : ids)
            if (auto it = waiter->attempted.find(id); it != waiter->attempted.end()) jobs->push_back(std::move(it->second));
    if (jobs->size() != ids.size()) jobs = co_await deps.team->storage().call(&read_jobs, ctx.tenant(), ids);
    if (!jobs) co_return failure("the sync was accepted, but its jobs cannot be read: " + jobs.error().message,
                                 {{"jobIds", json::value_from(ids)}});
    auto result = summarize_sync(call.what, *jobs, replayed, call.ignored, call.warnings);
    co_return result;
}

asio::awaitable<ToolResult> sync_tour_data(SyncToolsDeps deps, ToolContext& ctx, const json::object& args) {
    std::vector<std::string> ignored, warnings;
    const std::string zone = co_await deps.team->default_time_zone(ctx.tenant());
    auto tour = rollout::parse_tour(args.at("tourData"), "tourData", &ignored, {zone, &warnings});
    if (!tour) co_return failure(tour.error().message);
    SyncCall call{"sync_tour_data", "tour", "tour " + tour->tour_id, tour->tour_id, tour->tour_id,
                  rollout::buyer_local_id(tour->buyer_id, tour->tour_id), json::serialize(rollout::to_json(*tour)),
                  std::move(ignored), std::move(warnings)};
    co_return co_await accept_sync(deps, ctx, args, std::move(call));
}

asio::awaitable<ToolResult> sync_feedback_data(SyncToolsDeps deps, ToolContext& ctx, const json::object& args) {
    std::vector<std::string> ignored, warnings;
    const std::string zone = co_await deps.team->default_time_zone(ctx.tenant());
    auto feedback = rollout::parse_feedback(args.at("feedbackData"), "feedbackData", &ignored, {zone, &warnings});
    if (!feedback) co_return failure(feedback.error().message);
    SyncCall call{"sync_feedback_data", "feedback", "feedback on " + feedback->property_id,
                  rollout::feedback_local_id(*feedback), feedback->tour_id,
                  rollout::buyer_local_id(feedback->buyer_id, feedback->tour_id),
                  json::serialize(rollout::to_json(*feedback)), std::move(ignored), std::move(warnings)};
    co_return co_await accept_sync(deps, ctx, args, std::move(call));
}

ToolDefinition define(std::string name, std::string title, std::string description, json::object input,
                      ToolHandler handler) {
    ToolDefinition t;
    t.name = std::move(name);
    t.title = std::move(title);
    t.description = std::move(description);
    t.input_schema = std::move(input);
    t.output_schema = output_schema({{"results", json::object{{"type", "array"}}},
                                     {"replayed", json::object{{"type", "boolean"}}},
                                     {"ignoredFields", json::object{{"type", "array"}, {"items", json::object{{"type", "string"}}}}},
                                     {"warnings", json::object{{"type", "array"}, {"items", json::object{{"type", "string"}}}}},
                                     {"retryable", json::object{{"type", "boolean"}}}});
    t.annotations = {{"readOnlyHint", false}, {"destructiveHint", false}, {"idempotentHint", true}, {"openWorldHint", true}};
    t.streams = true;   // reports progress per CRM and may take a while
    t.task_support = TaskSupport::optional;   // a task for clients that declare the Tasks extension
    t.handler = std::move(handler);
    return t;
}

// The input schema of a sync tool whose payload argument is `data`: every bound comes from the limits
// table, which the parser enforces too.
json::object input_schema(std::string_view data) {
    json::object crm = rollout::limits::schema("crmType");
    crm["default"] = "all";
    // 2026-07-28 clients mirror it as Mcp-Param-CrmType, so a gateway can route or rate-limit per CRM without
    // reading the body; the server checks the two agree (server/mcp/param_headers.hpp).
    crm["x-mcp-header"] = "CrmType";
    const json::object wait{{"type", "boolean"}, {"default", true},
                            {"description", "wait (bounded) for the first attempt in each CRM; false returns the queued job ids at once"}};
    json::object properties{{"crmType", std::move(crm)}, {"wait", wait},
                            {"idempotencyKey", rollout::limits::schema("idempotencyKey")}};
    properties[data] = rollout::limits::schema(data);
    return {{"type", "object"}, {"additionalProperties", false}, {"required", json::array{json::string(data)}},
            {"properties", std::move(properties)}};
}

}  // namespace

void register_sync_tools(ToolRegistry& registry, SyncToolsDeps deps) {
    auto bind = [deps](auto fn) { return bind_deps(deps, fn); };
    registry.add(define("sync_tour_data", "Sync a tour to CRMs",
                        "Push a REanna Router tour into one CRM or all connected CRMs: the buyer becomes a contact "
                        "and each property visit an appointment (or task). Each CRM gets a durable job that is "
                        "retried until delivered; the call waits briefly for the first attempts (wait: false "
                        "returns at once). One outcome per CRM; repeating a sync updates the same records.",
                        input_schema("tourData"), bind(sync_tour_data)));
    registry.add(define("sync_feedback_data", "Sync buyer feedback to CRMs",
                        "Push a buyer's feedback on a property into one CRM or all connected CRMs as a note on the "
                        "buyer's contact, naming the property and the tour. Durable and retried like sync_tour_data.",
                        input_schema("feedbackData"), bind(sync_feedback_data)));
}

}  // namespace rollout_mcp
