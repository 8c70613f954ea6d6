// create_automation: a Rollout automation (trigger in one app, action in another) in the team's project
// environment, after checking that both credentials exist there.
#include "rollout_tools.hpp"

#include <boost/json/parse.hpp>

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

constexpr const char* kAutomationSchema = R"json({"type":"object","additionalProperties":false,"required":["name","trigger","action"],"properties":{
 "name":{"type":"string","minLength":1,"maxLength":200},
 "trigger":{"type":"object","required":["appKey","triggerKey","credentialKey"],"properties":{
   "appKey":{"type":"string","minLength":1},"triggerKey":{"type":"string","minLength":1},
   "credentialKey":{"type":"string","minLength":1},"inputParams":{"type":"object"}}},
 "action":{"type":"object","required":["appKey","actionKey","credentialKey"],"properties":{
   "appKey":{"type":"string","minLength":1},"actionKey":{"type":"string","minLength":1},
   "credentialKey":{"type":"string","minLength":1},"inputParams":{"type":"object","description":"values may use {{...}} placeholders"}}}}})json";

}  // namespace

void register_automation_tool(ToolRegistry& registry, TeamRollout& team) {
    ToolDefinition t;
    t.name = "create_automation";
    t.title = "Create a Rollout automation";
    t.description = "Create a Rollout automation (a trigger in one app runs an action in another) in this team's "
                    "project environment. inputParams values may use {{...}} placeholders.";
    t.input_schema = json::parse(kAutomationSchema).as_object();
    t.output_schema = output_schema({{"id", json::object{{"type", "string"}}}});
    t.annotations = {{"readOnlyHint", false}, {"destructiveHint", false}, {"idempotentHint", false}, {"openWorldHint", true}};
    t.handler = [&team](ToolContext& ctx, const json::object& args) { return create_automation(team, ctx, args); };
    registry.add(std::move(t));
}

}  // namespace rollout_mcp
