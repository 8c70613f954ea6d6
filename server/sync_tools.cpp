// sync_tour_data and sync_feedback_data (one CRM or every connected CRM, concurrently, one outcome per
// CRM) and create_automation. Until the durable outbox lands, a sync runs at once and asks the adapters to
// look records up by their markers first, so repeating a sync updates instead of duplicating.
#include "rollout_tools.hpp"

#include "rollout/adapters/adapter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace tool_results;

namespace {

struct Target {
    std::string crm_type;
    std::string credential;
    bool appointments = true;
};

using Job = std::function<asio::awaitable<rollout::SyncOutcome>(rollout::RolloutClient&, rollout::CrmAdapter&,
                                                                rollout::SyncTarget)>;

json::object outcome_json(const Target& t, const rollout::SyncOutcome& o) {
    json::array records;
    for (const auto& r : o.records)
        records.push_back(json::object{{"kind", r.kind}, {"localId", r.local_id}, {"externalId", r.external_id},
                                       {"action", rollout::to_string(r.action)}});
    // jobId stays null until syncs go through the durable outbox (issue 4): this sync ran at once.
    json::object out{{"crmType", t.crm_type}, {"status", o.ok() ? "success" : "error"}, {"jobId", nullptr},
                     {"records", std::move(records)}};
    if (o.error) out["error"] = error_json(*o.error);
    return out;
}

// The CRMs a call targets: one connector key (must be connected) or "all" connected ones.
asio::awaitable<std::variant<std::vector<Target>, std::string>> targets_for(TeamRollout& team, const std::string& tenant,
                                                                            rollout::RolloutClient& client,
                                                                            const std::string& requested) {
    const auto crm_type = rollout::canonical_crm_type(requested.empty() ? "all" : requested);
    // A named closure: GCC 12 destroys a closure temporary inside co_await twice.
    auto storage_op1 = [tenant](storage::Storage& s) { return s.list_crm_connections(tenant); };
    auto connections = co_await team.storage().run(std::move(storage_op1));
    if (!connections) co_return "cannot read this team's connections: " + connections.error().message;
    std::vector<Target> out;
    for (const auto& c : *connections) {
        if (crm_type != "all" && c.crm_type != crm_type) continue;
        // A named closure: GCC 12 destroys a closure temporary inside co_await twice.
        auto storage_op2 = [tenant, type = c.crm_type](storage::Storage& s) { return s.get_crm_connection(tenant, type); };
        auto opened = co_await team.storage().run(std::move(storage_op2));
        if (!opened) co_return "cannot open the " + c.crm_type + " connection: " + opened.error().message;
        out.push_back({c.crm_type, std::string(opened->credential_key.text()), true});
    }
    auto connectors = co_await team.connectors(tenant, client);
    if (out.empty()) {
        std::string problem;
        if (crm_type == "all") {
            problem = "crmType: no CRM is connected for this team; call configure_crm_connection first";
        } else {
            bool known = !connectors;   // when Rollout cannot be asked, do not claim the key is unknown
            if (connectors)
                for (const auto& c : *connectors) known = known || (c.crm && c.key == crm_type);
            problem = known ? "crmType: \"" + crm_type + "\" is not connected for this team; call configure_crm_connection first"
                            : "crmType: \"" + crm_type + "\" is not a CRM connector in Rollout (see list_available_crms)";
        }
        co_return problem;
    }
    if (connectors)
        for (auto& t : out)
            for (const auto& c : *connectors)
                if (c.key == t.crm_type) t.appointments = c.supports("appointments", "create");
    co_return out;
}

asio::awaitable<rollout::SyncOutcome> run_one(std::shared_ptr<rollout::RolloutClient> client, Target target, Job job) {
    rollout::AdapterOptions options;
    options.appointments_supported = target.appointments;
    auto adapter = rollout::make_adapter(target.crm_type, options);
    rollout::SyncTarget sync{target.credential, {}, true};
    co_return co_await job(*client, *adapter, std::move(sync));
}

// Runs `job` against every target concurrently; progress after each CRM finishes.
asio::awaitable<ToolResult> fan_out(TeamRollout& team, ToolContext& ctx, const std::string& crm_type,
                                    const std::string& what, Job job) {
    auto client_or = co_await team.client(ctx.tenant());
    if (auto* f = std::get_if<ToolFailure>(&client_or)) co_return failure(f->message);
    auto client = std::get<0>(client_or);
    auto targets_or = co_await targets_for(team, ctx.tenant(), *client, crm_type);
    if (auto* f = std::get_if<std::string>(&targets_or)) co_return failure(*f);
    auto targets = std::get<0>(std::move(targets_or));

    auto executor = co_await asio::this_coro::executor;
    struct FanOut {
        explicit FanOut(asio::any_io_executor ex, std::size_t n) : done(ex), outcomes(n), remaining(n) {}
        asio::steady_timer done;
        std::vector<std::optional<rollout::SyncOutcome>> outcomes;
        std::size_t remaining;
    };
    auto state = std::make_shared<FanOut>(executor, targets.size());
    state->done.expires_at(asio::steady_timer::time_point::max());
    ctx.progress(0, static_cast<double>(targets.size()), what + " started");
    for (std::size_t i = 0; i < targets.size(); ++i) {
        // Every branch runs on this call's executor, so the shared state needs no lock.
        asio::co_spawn(executor, run_one(client, targets[i], job),
                       [state, i, &ctx, total = targets.size(), crm = targets[i].crm_type](std::exception_ptr ep,
                                                                                         rollout::SyncOutcome o) {
                           if (ep) o.error = rollout::Error{rollout::ErrorKind::permanent, 0, "internal error"};
                           state->outcomes[i] = std::move(o);
                           ctx.progress(static_cast<double>(total - state->remaining + 1), static_cast<double>(total),
                                        crm + (state->outcomes[i]->ok() ? ": done" : ": failed"));
                           if (--state->remaining == 0) state->done.cancel();
                       });
    }
    while (state->remaining > 0) co_await state->done.async_wait(asio::as_tuple(asio::use_awaitable));

    json::array results;
    std::size_t ok = 0;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        ok += state->outcomes[i]->ok() ? 1 : 0;
        results.push_back(outcome_json(targets[i], *state->outcomes[i]));
    }
    const auto n = targets.size();
    json::object fields{{"results", std::move(results)}};
    if (ok == n) co_return success(what + " synced to " + std::to_string(n) + " CRM(s)", std::move(fields));
    if (ok == 0) co_return failure(what + " failed in every CRM (" + std::to_string(n) + ")", std::move(fields));
    fields["status"] = "partial";
    fields["message"] = what + " synced to " + std::to_string(ok) + " of " + std::to_string(n) + " CRM(s)";
    co_return structured_result(fields);
}

std::string crm_arg(const json::object& args) {
    const auto* v = args.if_contains("crmType");
    return v && v->is_string() ? std::string(v->get_string()) : "all";
}

asio::awaitable<ToolResult> sync_tour_data(TeamRollout& team, ToolContext& ctx, const json::object& args) {
    auto tour = rollout::parse_tour(args.at("tourData"), "tourData");
    if (!tour) co_return failure(tour.error().message);
    Job job = [tour = *tour](rollout::RolloutClient& c, rollout::CrmAdapter& a, rollout::SyncTarget t) {
        return a.sync_tour(c, std::move(t), tour);
    };
    co_return co_await fan_out(team, ctx, crm_arg(args), "tour " + tour->tour_id, std::move(job));
}

asio::awaitable<ToolResult> sync_feedback_data(TeamRollout& team, ToolContext& ctx, const json::object& args) {
    auto feedback = rollout::parse_feedback(args.at("feedbackData"), "feedbackData");
    if (!feedback) co_return failure(feedback.error().message);
    Job job = [fb = *feedback](rollout::RolloutClient& c, rollout::CrmAdapter& a, rollout::SyncTarget t) {
        return a.sync_feedback(c, std::move(t), fb);
    };
    co_return co_await fan_out(team, ctx, crm_arg(args), "feedback on " + feedback->property_id, std::move(job));
}

// {{ ... }} placeholders must be balanced and non-empty; returns the first problem.
std::optional<std::string> bad_template(const json::value& v, const std::string& path) {
    if (v.is_string()) {
        std::string_view s = v.get_string();
        for (std::size_t at = 0; (at = s.find("{{", at)) != std::string_view::npos;) {
            auto close = s.find("}}", at + 2);
            if (close == std::string_view::npos) return path + ": unclosed \"{{\" placeholder";
            auto inner = s.substr(at + 2, close - at - 2);
            if (inner.find_first_not_of(" \t") == std::string_view::npos) return path + ": empty \"{{ }}\" placeholder";
            if (inner.find("{{") != std::string_view::npos) return path + ": nested \"{{\" inside a placeholder";
            at = close + 2;
        }
        if (s.find("}}") != std::string_view::npos && s.find("{{") == std::string_view::npos)
            return path + ": \"}}\" without an opening \"{{\"";
    } else if (v.is_object()) {
        for (const auto& [k, x] : v.get_object())
            if (auto p = bad_template(x, path + "." + std::string(k))) return p;
    } else if (v.is_array()) {
        std::size_t i = 0;
        for (const auto& x : v.get_array())
            if (auto p = bad_template(x, path + "[" + std::to_string(i++) + "]")) return p;
    }
    return std::nullopt;
}

asio::awaitable<ToolResult> create_automation(TeamRollout& team, ToolContext& ctx, const json::object& args) {
    for (const char* part : {"trigger", "action"})
        if (const auto* params = args.at(part).as_object().if_contains("inputParams"))
            if (auto problem = bad_template(*params, std::string(part) + ".inputParams")) co_return failure(*problem);
    auto client_or = co_await team.client(ctx.tenant());
    if (auto* f = std::get_if<ToolFailure>(&client_or)) co_return failure(f->message);
    auto client = std::get<0>(client_or);
    if (client->endpoints().automation.empty())
        co_return failure("create_automation is not available: this team's Rollout settings have no project environment");
    // The referenced apps and credentials must exist in the team's project environment.
    for (const char* part : {"trigger", "action"}) {
        const auto& spec = args.at(part).as_object();
        const std::string app(spec.at("appKey").as_string());
        const std::string credential(spec.at("credentialKey").as_string());
        const std::string path = "/credentials?appKey=" + rollout::url_encode(app);
        auto listed = co_await client->request(rollout::Host::automation, boost::beast::http::verb::get, path);
        if (!listed) co_return upstream(std::string("cannot check ") + part + ".credentialKey", listed.error());
        bool found = false;
        if (const auto* items = listed->if_array())
            for (const auto& item : *items) {
                if (!item.is_object()) continue;
                const auto& o = item.get_object();
                const auto* key = o.contains("credentialKey") ? o.if_contains("credentialKey") : o.if_contains("id");
                if (key && rollout::id_of(*key) == credential) found = true;
            }
        if (!found)
            co_return failure(std::string(part) + ".credentialKey: no credential \"" + credential + "\" for app \"" + app +
                              "\" in this team's Rollout project");
    }
    auto created = co_await client->create_automation(args);
    if (!created) co_return upstream("Rollout did not create the automation", created.error());
    co_return success("automation \"" + std::string(args.at("name").as_string()) + "\" created", {{"id", created->id}});
}

ToolDefinition define(std::string name, std::string title, std::string description, std::string_view input,
                      json::object extra_output, ToolHandler handler) {
    ToolDefinition t;
    t.name = std::move(name);
    t.title = std::move(title);
    t.description = std::move(description);
    t.input_schema = json::parse(input).as_object();
    t.output_schema = output_schema(std::move(extra_output));
    t.annotations = {{"readOnlyHint", false}, {"destructiveHint", false}, {"idempotentHint", true}, {"openWorldHint", true}};
    t.streams = true;   // reports progress per CRM and may take a while
    t.handler = std::move(handler);
    return t;
}

constexpr const char* kTourSchema = R"json({"type":"object","additionalProperties":false,"required":["tourData"],"properties":{
 "crmType":{"type":"string","minLength":1,"maxLength":64,"default":"all","description":"a connector key (highlevel, lofty, follow-up-boss, ...) or \"all\" connected CRMs"},
 "tourData":{"type":"object","required":["tourId","agentId","properties"],"properties":{
   "tourId":{"type":"string","minLength":1,"maxLength":128},
   "agentId":{"type":"string","minLength":1,"maxLength":128},
   "agentEmail":{"type":"string","maxLength":254},
   "buyerId":{"type":"string","minLength":1,"maxLength":128},
   "buyer":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":"string"},"phone":{"type":"string"}}},
   "timeZone":{"type":"string","description":"IANA time zone of the tour, e.g. America/Chicago"},
   "properties":{"type":"array","minItems":1,"maxItems":100,"items":{"type":"object","required":["propertyId","address","visitTime"],"properties":{
     "propertyId":{"type":"string","minLength":1,"maxLength":128},
     "address":{"type":"string","minLength":1,"maxLength":512},
     "visitTime":{"type":"string","description":"ISO 8601 with a UTC offset, e.g. 2026-12-01T10:00:00-06:00"},
     "durationMinutes":{"type":"integer","minimum":1,"maximum":1440},
     "notes":{"type":"string","maxLength":4000}}}}}}}})json";

constexpr const char* kFeedbackSchema = R"json({"type":"object","additionalProperties":false,"required":["feedbackData"],"properties":{
 "crmType":{"type":"string","minLength":1,"maxLength":64,"default":"all"},
 "feedbackData":{"type":"object","required":["propertyId","tourId","feedback"],"properties":{
   "propertyId":{"type":"string","minLength":1,"maxLength":128},
   "tourId":{"type":"string","minLength":1,"maxLength":128},
   "buyerId":{"type":"string","minLength":1,"maxLength":128},
   "feedback":{"type":"string","minLength":1,"maxLength":20000},
   "rating":{"type":"number","minimum":0,"maximum":5},
   "interestLevel":{"type":"string","maxLength":64},
   "address":{"type":"string","maxLength":512},
   "timestamp":{"type":"string","description":"ISO 8601 with a UTC offset"}}}}})json";

constexpr const char* kAutomationSchema = R"json({"type":"object","additionalProperties":false,"required":["name","trigger","action"],"properties":{
 "name":{"type":"string","minLength":1,"maxLength":200},
 "trigger":{"type":"object","required":["appKey","triggerKey","credentialKey"],"properties":{
   "appKey":{"type":"string","minLength":1},"triggerKey":{"type":"string","minLength":1},
   "credentialKey":{"type":"string","minLength":1},"inputParams":{"type":"object"}}},
 "action":{"type":"object","required":["appKey","actionKey","credentialKey"],"properties":{
   "appKey":{"type":"string","minLength":1},"actionKey":{"type":"string","minLength":1},
   "credentialKey":{"type":"string","minLength":1},"inputParams":{"type":"object","description":"values may use {{...}} placeholders"}}}}})json";

}  // namespace

void register_sync_tools(ToolRegistry& registry, TeamRollout& team) {
    auto bind = [&team](auto fn) {
        return [&team, fn](ToolContext& ctx, const json::object& args) { return fn(team, ctx, args); };
    };
    json::object results{{"results", json::object{{"type", "array"}}}};
    registry.add(define("sync_tour_data", "Sync a tour to CRMs",
                        "Push a REanna Router tour into one CRM or all connected CRMs: the buyer becomes a contact "
                        "and each property visit an appointment (or task). One outcome per CRM; one CRM failing "
                        "does not fail the others. Repeating a sync updates the same records.",
                        kTourSchema, results, bind(sync_tour_data)));
    registry.add(define("sync_feedback_data", "Sync buyer feedback to CRMs",
                        "Push a buyer's feedback on a property into one CRM or all connected CRMs as a note on the "
                        "buyer's contact, naming the property and the tour.",
                        kFeedbackSchema, results, bind(sync_feedback_data)));
    auto automation = define("create_automation", "Create a Rollout automation",
                             "Create a Rollout automation (a trigger in one app runs an action in another) in this "
                             "team's project environment. inputParams values may use {{...}} placeholders.",
                             kAutomationSchema, {{"id", json::object{{"type", "string"}}}}, bind(create_automation));
    automation.streams = false;
    automation.annotations["idempotentHint"] = false;
    registry.add(std::move(automation));
}

}  // namespace rollout_mcp
