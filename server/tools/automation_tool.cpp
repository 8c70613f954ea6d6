// create_automation: a Rollout automation (trigger in one app, action in another) in the team's project
// environment. App aliases are mapped like crmType; a repeated call with the same name and spec returns the
// automation the first one made (replayed), the same name with another spec is refused.
#include "server/tools/json_canonical.hpp"
#include "server/tools/rollout_tools.hpp"

#include "server/sync/crm_model.hpp"

#include <boost/json/parse.hpp>

#include <chrono>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace tool_results;

namespace {

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

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A reservation nobody finished for this long belongs to a call whose answer was lost (or a crash).
constexpr std::int64_t kStaleReservationMs = 60'000;

// The spec as Rollout receives it: app aliases mapped like crmType ("gohighlevel" -> "highlevel"), so the
// same automation written with either name is the same spec.
json::object normalized_spec(const json::object& args) {
    json::object spec{{"name", args.at("name")}};
    for (const char* part : {"trigger", "action"}) {
        json::object p = args.at(part).as_object();
        p["appKey"] = rollout::canonical_crm_type(p.at("appKey").as_string());
        spec[part] = std::move(p);
    }
    return spec;
}

// The automation called `name` in Rollout's list for this project environment, if any.
asio::awaitable<Result<std::optional<std::string>>> find_by_name(rollout::RolloutClient& client,
                                                                        const std::string& name) {
    auto listed = co_await client.request(rollout::Host::automation, boost::beast::http::verb::get, "/automations");
    if (!listed) co_return std::move(listed).error();
    const json::array* items = listed->if_array();
    if (!items && listed->is_object())
        for (const auto& [k, v] : listed->get_object())
            if (v.is_array()) items = &v.get_array();
    std::optional<std::string> found;
    if (items)
        for (const auto& item : *items)
            if (const auto* o = item.if_object())
                if (const auto* n = o->if_contains("name"); n && n->is_string() && n->get_string() == name)
                    if (const auto* id = o->if_contains("id")) found = rollout::id_of(*id);
    co_return found;
}

asio::awaitable<ToolResult> create_automation(TeamRollout& team, ToolContext& ctx, const json::object& args) {
    for (const char* part : {"trigger", "action"})
        if (const auto* params = args.at(part).as_object().if_contains("inputParams"))
            if (auto problem = bad_template(*params, std::string(part) + ".inputParams")) co_return failure(*problem);
    auto client_or = co_await team.client(ctx.tenant());
    if (!client_or) co_return failure(client_or.error().message);
    auto client = client_or.value();
    if (client->endpoints().automation.empty())
        co_return failure("create_automation is not available: this team's Rollout settings have no project environment");

    // The credential keys go to Rollout as given: they are credentials of the team's v2 project environment
    // and Rollout decides whether they are valid there (its refusal comes back as its own message).
    const json::object spec = normalized_spec(args);
    const std::string name(args.at("name").as_string());
    const auto hash = canonical_hash("create_automation", spec);
    const auto now = now_ms();
    auto reserved = co_await team.storage().call(&storage::Storage::reserve_automation, ctx.tenant(), name, hash, now,
                                                 now - kStaleReservationMs);
    if (!reserved) co_return failure("cannot record the automation: " + reserved.error().message);
    if (!reserved->reserved_now) {
        const auto& existing = reserved->existing;
        if (existing.spec_hash != hash)
            co_return failure("name: this team already has an automation named \"" + name +
                                  "\" with another trigger or action" +
                                  (existing.automation_id.empty() ? std::string() : " (id " + existing.automation_id + ")") +
                                  "; choose another name",
                              {{"id", existing.automation_id}});
        if (!existing.automation_id.empty())
            co_return success("automation \"" + name + "\" already exists", {{"id", existing.automation_id}, {"replayed", true}});
        if (existing.updated_at_ms != now)
            co_return failure("automation \"" + name + "\" is being created by another call; call again in a minute",
                              {{"retryable", true}});
        // An earlier call reserved the name and its outcome was lost: Rollout may have created it.
        auto found = co_await find_by_name(*client, name);
        if (!found) co_return upstream("cannot check whether automation \"" + name + "\" exists", found.error());
        if (found.value() && !found.value()->empty()) {
            (void)co_await team.storage().call(&storage::Storage::complete_automation, ctx.tenant(), name,
                                               *found.value(), now_ms());
            co_return success("automation \"" + name + "\" already exists", {{"id", *found.value()}, {"replayed", true}});
        }
    }

    auto created = co_await client->create_automation(spec);
    if (!created || created->id.empty()) {
        const Error e = created ? Error{rollout::ErrorKind::permanent, 0,
                                                          "Rollout created the automation without an id", true}
                                         : created.error();
        // Refused: the name is free again. Uncertain: the next call looks the automation up by name first.
        (void)co_await team.storage().call(&storage::Storage::release_automation, ctx.tenant(), name, e.uncertain);
        co_return upstream(e.uncertain ? "Rollout may or may not have created the automation (call again to check)"
                                       : "Rollout did not create the automation",
                           e);
    }
    auto recorded = co_await team.storage().call(&storage::Storage::complete_automation, ctx.tenant(), name,
                                                 created->id, now_ms());
    if (!recorded) co_return failure("the automation was created (id " + created->id + ") but cannot be recorded: " +
                                     recorded.error().message, {{"id", created->id}});
    co_return success("automation \"" + name + "\" created", {{"id", created->id}, {"replayed", false}});
}

constexpr const char* kAutomationSchema = R"json({"type":"object","additionalProperties":false,"required":["name","trigger","action"],"properties":{
 "name":{"type":"string","minLength":1,"maxLength":200,"description":"unique per team: the same name and spec again returns the existing automation"},
 "trigger":{"type":"object","required":["appKey","triggerKey","credentialKey"],"properties":{
   "appKey":{"type":"string","minLength":1,"maxLength":64,"description":"Rollout app key; CRM aliases as for crmType (gohighlevel -> highlevel)"},
   "triggerKey":{"type":"string","minLength":1,"maxLength":128},
   "credentialKey":{"type":"string","minLength":1,"maxLength":256,"description":"a credential of the team's v2 project environment"},
   "inputParams":{"type":"object"}}},
 "action":{"type":"object","required":["appKey","actionKey","credentialKey"],"properties":{
   "appKey":{"type":"string","minLength":1,"maxLength":64},"actionKey":{"type":"string","minLength":1,"maxLength":128},
   "credentialKey":{"type":"string","minLength":1,"maxLength":256},
   "inputParams":{"type":"object","description":"values may use {{...}} placeholders"}}}}})json";

}  // namespace

void register_automation_tool(ToolRegistry& registry, TeamRollout& team) {
    ToolDefinition t;
    t.name = "create_automation";
    t.title = "Create a Rollout automation";
    t.description = "Create a Rollout automation (a trigger in one app runs an action in another) in this team's "
                    "v2 project environment, with credentials of that environment. inputParams values may use {{...}} "
                    "placeholders. The same name and spec again returns the existing automation (replayed: true).";
    t.input_schema = json::parse(kAutomationSchema).as_object();
    t.output_schema = output_schema({{"id", json::object{{"type", "string"}}}, {"replayed", json::object{{"type", "boolean"}}}});
    t.annotations = {{"readOnlyHint", false}, {"destructiveHint", false}, {"idempotentHint", true}, {"openWorldHint", true}};
    t.handler = [&team](ToolContext& ctx, const json::object& args) { return create_automation(team, ctx, args); };
    registry.add(std::move(t));
}

}  // namespace rollout_mcp
