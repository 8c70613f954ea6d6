// Sessionless (2026-07-28) methods (see sessionless_dispatch.hpp). Transport errors are HTTP 400 (or 404 for an
// unknown method) with the request's id; https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http.
#include "server/mcp/sessionless_dispatch.hpp"

#include "server/app/observability.hpp"
#include "server/mcp/param_headers.hpp"

#include <boost/json/serialize.hpp>

namespace rollout_mcp {
namespace json = boost::json;
using mcp::sessionless_error;

namespace {

constexpr std::string_view kServerName = "rollout-mcp";
constexpr std::string_view kServerVersion = "0.1.0";

// resultType on every result; the caching hints on discover and list results (cacheScope "public": the answer is
// the same for every caller).
std::string complete(const json::value& id, json::object result, bool cacheable = false) {
    result["resultType"] = "complete";
    if (cacheable) {
        result["ttlMs"] = 60000;
        result["cacheScope"] = "public";
    }
    return jsonrpc::result(id, result);
}

HttpReply not_found(const json::value& id, const std::string& method) {
    return sessionless_error(id, jsonrpc::code::method_not_found,
                             "Method not found: " + method + " (not part of protocol revision 2026-07-28 here)", nullptr,
                             404);
}

HttpReply missing_capability(const json::value& id, json::object required) {
    const json::value data = json::object{{"requiredCapabilities", std::move(required)}};
    return sessionless_error(id, mcp::code::missing_required_client_capability,
                             "Missing required client capability: declare it in _meta " +
                                 std::string(mcp::kMetaClientCapabilities),
                             &data);
}

json::object tasks_capability() {
    return {{"extensions", json::object{{kTasksExtension, json::object{}}}}};
}

}  // namespace

SessionlessDispatcher::SessionlessDispatcher(const Config& config, const ToolRegistry& tools, McpDispatcher& calls,
                                             SessionlessServices services)
    : config_(config), tools_(tools), calls_(calls), services_(std::move(services)) {}

boost::asio::awaitable<HttpReply> SessionlessDispatcher::handle(const HttpRequest& request,
                                                                const jsonrpc::Message& message,
                                                                const std::string& tenant) {
    if (message.kind != jsonrpc::Kind::request) {   // notifications and responses need no answer
        HttpReply accepted;
        accepted.status = 202;
        co_return accepted;
    }
    auto checked = mcp::check_envelope(request, message);
    if (auto* refused = std::get_if<HttpReply>(&checked)) co_return std::move(*refused);
    const auto& call = std::get<mcp::SessionlessCall>(checked);
    const auto& id = message.id;
    const auto& method = message.method;

    if (method == "server/discover") co_return discover(call);
    if (method == "tools/list") {
        std::string_view cursor;
        if (const auto* c = message.params->if_contains("cursor")) {
            if (!c->is_string())
                co_return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: cursor must be a string");
            cursor = c->get_string();
        }
        auto page = tools_.list_page(call.revision, cursor, config_.mcp.tools_page_size);
        if (!page) co_return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: unknown cursor");
        co_return json_reply(jsonrpc::result_raw(id, *page));
    }
    if (method == "tools/call") co_return co_await call_tool(request, call, tenant);
    if (method == "subscriptions/listen") co_return co_await listen(call, tenant);
    if (services_.events && method.starts_with("events/")) co_return co_await events_method(call, tenant);
    if ((method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel") && services_.tasks &&
        !services_.tasks->empty())
        co_return co_await task_method(call, tenant);
    if (!services_.prompts.empty()) {
        if (method == "prompts/list") {
            json::array prompts;
            for (const auto& p : services_.prompts) prompts.push_back(json::object{{"name", p.name}, {"description", p.description}});
            co_return json_reply(complete(id, {{"prompts", std::move(prompts)}}, true));
        }
        if (method == "prompts/get") co_return get_prompt(call, tenant);
    }
    if (services_.empty_resources) {
        if (method == "resources/list") co_return json_reply(complete(id, {{"resources", json::array{}}}, true));
        if (method == "resources/templates/list")
            co_return json_reply(complete(id, {{"resourceTemplates", json::array{}}}, true));
        if (method == "resources/read") {
            const auto* uri = message.params->if_contains("uri");
            const json::value data = json::object{{"uri", uri && uri->is_string() ? *uri : json::value(nullptr)}};
            co_return sessionless_error(id, jsonrpc::code::invalid_params, "Resource not found", &data, 200);
        }
    }
    co_return not_found(id, method);
}

HttpReply SessionlessDispatcher::discover(const mcp::SessionlessCall& call) const {
    json::array versions;
    for (auto v : mcp::kStatelessRevisions) versions.emplace_back(v);
    json::object capabilities{{"tools", json::object{{"listChanged", true}}}, {"logging", json::object{}}};
    if (!services_.prompts.empty()) capabilities["prompts"] = json::object{{"listChanged", false}};
    if (services_.empty_resources) capabilities["resources"] = json::object{};
    json::object extensions;
    if (services_.tasks && !services_.tasks->empty()) extensions[kTasksExtension] = json::object{};
    if (services_.events) {   // the extension, and ChatGPT's "events": {} (mcp-events.md)
        extensions[mcp::kEventsExtension] = json::object{};
        capabilities["events"] = json::object{};
    }
    if (!extensions.empty()) capabilities["extensions"] = std::move(extensions);
    json::object result{
        {"supportedVersions", std::move(versions)},
        {"capabilities", std::move(capabilities)},
        {"instructions",
         "Sync REanna Router tours and buyer feedback into the team's CRMs through Rollout. Configure Rollout first "
         "(configure_rollout), connect CRMs (configure_crm_connection), then call sync_tour_data or sync_feedback_data; "
         "declare the io.modelcontextprotocol/tasks extension to get a sync back as a task."},
        {"_meta", json::object{{mcp::kMetaServerInfo, json::object{{"name", kServerName}, {"version", kServerVersion}}}}},
    };
    return json_reply(complete(call.message.id, std::move(result), true));
}

boost::asio::awaitable<HttpReply> SessionlessDispatcher::call_tool(const HttpRequest& request,
                                                                   const mcp::SessionlessCall& call,
                                                                   const std::string& tenant) {
    const auto& message = call.message;
    const auto& id = message.id;
    const json::value* name = message.params->if_contains("name");
    const ToolDefinition* tool = name && name->is_string() ? tools_.find(name->get_string()) : nullptr;
    if (!tool)
        co_return json_reply(jsonrpc::error(id, jsonrpc::code::invalid_params,
                                            name && name->is_string() ? "Invalid params: unknown tool \"" +
                                                                            std::string(name->get_string()) + "\""
                                                                      : "Invalid params: name must be a string"));
    const bool tasks_declared = mcp::declares(call.client_capabilities, {"extensions", kTasksExtension});
    // What the tool needs of the client is checked before anything runs (2026-07-28: -32021, HTTP 400).
    for (const auto& [capability, shape] : tool->required_capabilities)
        if (!mcp::declares(call.client_capabilities, {capability}))
            co_return missing_capability(id, tool->required_capabilities);
    if (tool->task_support == TaskSupport::required && !tasks_declared)
        co_return missing_capability(id, tasks_capability());
    const json::value* args = message.params->if_contains("arguments");
    if (args && !args->is_object() && !args->is_null())
        co_return json_reply(jsonrpc::error(id, jsonrpc::code::invalid_params, "Invalid params: arguments must be an object"));
    static const json::object no_arguments;
    const json::object& arguments = args && args->is_object() ? args->get_object() : no_arguments;
    if (auto problem = mcp::param_header_problem(tool->header_params, arguments, request.mcp_params))
        co_return sessionless_error(id, mcp::code::header_mismatch, "Header mismatch: " + *problem);

    CallInfo info;
    info.sessionless = true;
    info.client_capabilities = call.client_capabilities;
    info.tasks = tasks_declared && tool->task_support != TaskSupport::forbidden;
    info.trace = call.trace;
    info.params = *message.params;
    info.services = &services_;
    // One request, one short-lived session: it owns the reply stream and the in-flight entry, nothing more.
    mcp::SessionLimits limits;
    limits.max_streams = 1;
    auto session = std::make_shared<mcp::Session>(std::string(), tenant, call.revision, limits);
    if (call.log_level) session->set_log_level(*call.log_level);
    const bool logs = call.log_level.has_value();
    co_return co_await calls_.call_tool(std::move(session), message, true, info, logs);
}

HttpReply SessionlessDispatcher::get_prompt(const mcp::SessionlessCall& call, const std::string& tenant) const {
    const auto& id = call.message.id;
    const auto* name = call.message.params->if_contains("name");
    for (const auto& p : services_.prompts) {
        if (!name || !name->is_string() || name->get_string() != p.name) continue;
        try {
            auto result = p.get(tenant, *call.message.params);
            if (!result.contains("resultType")) result["resultType"] = "complete";
            return json_reply(jsonrpc::result(id, result));
        } catch (const ToolProtocolError& e) {
            return sessionless_error(id, e.code, e.what(), e.data.is_null() ? nullptr : &e.data);
        }
    }
    return sessionless_error(id, jsonrpc::code::invalid_params, "Invalid params: unknown prompt");
}

}  // namespace rollout_mcp
