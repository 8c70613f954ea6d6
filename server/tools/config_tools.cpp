// configure_rollout, list_available_crms, configure_crm_connection, test_crm_connection,
// list_crm_connections, remove_crm_connection.
#include "server/tools/rollout_tools.hpp"

#include "base/utc_time.hpp"

#include "server/sync/hook_mapping.hpp"
#include "server/sync/hook_subscriptions.hpp"

#include "server/app/origin.hpp"
#include "server/sync/rollout_field_rules.hpp"

#include "server/sync/crm_model.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace tool_results;

namespace tool_results {

ToolResult success(std::string message, json::object fields) {
    fields["status"] = "success";
    fields["message"] = message;
    return structured_result(fields);
}

ToolResult failure(std::string message, json::object fields) {
    fields["status"] = "error";
    fields["message"] = message;
    return structured_result(fields, true);
}

json::object error_json(const Error& e) {
    json::object o{{"kind", e.code.message()}, {"httpStatus", e.status}, {"message", e.message}};
    if (e.retry_after) o["retryAfterSeconds"] = e.retry_after->count();
    if (!e.upstream.empty()) o["upstreamMessage"] = e.upstream;  // Rollout's words, apart from ours
    return o;
}

ToolResult upstream(const std::string& what, const Error& e) {
    return failure(what + ": " + e.describe(), {{"error", error_json(e)}});
}

json::object output_schema(json::object extra) {
    extra["status"] = json::object{{"type", "string"}, {"enum", json::array{"success", "partial", "queued", "error"}}};
    extra["message"] = json::object{{"type", "string"}};
    return {{"type", "object"}, {"properties", std::move(extra)}, {"required", json::array{"status", "message"}}};
}

}  // namespace tool_results

namespace {

// The secrets travel to the storage thread in their locked, zeroed memory, not in a std::string.
using SharedSecret = std::shared_ptr<const crypto::SecretBytes>;

Result<void> store_rollout_settings(storage::Storage& s, const std::string& tenant, const std::string& settings_json,
                                    const SharedSecret& secret, const SharedSecret& webhook_secret) {
    return s.put_rollout_config(tenant, settings_json, secret->view(), webhook_secret->view());
}

// Where the team's webhook signing key comes from, for results (the key itself is never echoed).
std::string webhook_key_source(bool given, bool client_mode) {
    return given ? "webhookSecret" : client_mode ? "clientSecret" : "none";
}

Result<void> store_crm_connection(storage::Storage& s, const std::string& tenant, const std::string& crm_type,
                                  const std::string& label, const SharedSecret& credential) {
    return s.put_crm_connection(tenant, crm_type, label, credential->view());
}

json::object schema(std::string_view text) { return json::parse(text).as_object(); }

std::string str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

ToolDefinition define(std::string name, std::string title, std::string description, std::string_view input,
                      json::object extra_output, ToolHandler handler, bool read_only) {
    ToolDefinition t;
    t.name = std::move(name);
    t.title = std::move(title);
    t.description = std::move(description);
    t.input_schema = schema(input);
    apply_field_rules(t.input_schema);   // patterns from the same table as the C++ checks
    t.output_schema = output_schema(std::move(extra_output));
    t.annotations = {{"readOnlyHint", read_only}, {"openWorldHint", true}};
    t.handler = std::move(handler);
    return t;
}

// A baseUrl is exactly an origin the operator listed: anything else could aim this server (and the
// team's credentials) at any host or loopback port.
std::optional<std::string> base_url_problem(const TeamRollout& team, const std::string& base,
                                            std::optional<std::string>& origin) {
    origin = normalize_origin(base);
    if (!origin)
        return "baseUrl: must be an origin (scheme://host[:port], nothing after it but an optional \"/\") listed "
               "in the server's [rollout] allowed_base_urls";
    if (!origin_listed(team.allowed_base_urls(), *origin))
        return "baseUrl: " + *origin + " is not in the server's [rollout] allowed_base_urls" +
               (team.allowed_base_urls().empty() ? " (empty: only Rollout's own hosts are allowed)" : "") +
               "; leave baseUrl out, or ask the operator to list it";
    return std::nullopt;
}

asio::awaitable<ToolResult> configure_rollout(TeamRollout& team, ToolContext& ctx, const json::object& args) {
    RolloutSettings settings;
    settings.project_env_key = str(args, "projectEnvKey");
    settings.client_id = str(args, "clientId");
    std::string secret = settings.client_id.empty() ? str(args, "authToken") : str(args, "clientSecret");
    if (secret.empty())
        co_return failure(settings.client_id.empty() ? "authToken: required unless clientId and clientSecret are given"
                                                     : "clientSecret: required with clientId");
    // The schema already checked these; the same rules again, as on every load of stored settings.
    if (auto bad = TeamRollout::settings_field_problem(settings, secret)) co_return failure(*bad);
    const std::string webhook_secret = str(args, "webhookSecret");
    if (args.contains("webhookSecret")) {
        if (auto bad = field_problem(RolloutField::webhook_secret, webhook_secret)) co_return failure(*bad);
        if (webhook_secret.size() < kMinWebhookSecret)
            co_return failure("webhookSecret: must be at least " + std::to_string(kMinWebhookSecret) +
                              " characters (it is the HMAC key of Rollout's webhook signatures)");
    }
    settings.time_zone = str(args, "timeZone");
    if (!settings.time_zone.empty() && !rollout::is_known_time_zone(settings.time_zone))
        co_return failure("timeZone: \"" + settings.time_zone + "\" is not an IANA time zone (e.g. America/Chicago)");
    const auto base = str(args, "baseUrl");
    if (args.contains("baseUrl")) {
        std::optional<std::string> origin;
        if (auto refused = base_url_problem(team, base, origin)) co_return failure(*refused);
        settings.endpoints = rollout::RolloutEndpoints::all_at(*origin);
    } else {
        settings.endpoints.automation = rollout::RolloutEndpoints::automation_for(settings.project_env_key);
    }
    if (settings.client_id.empty()) {
        auto check = rollout::TokenSource::pre_minted(secret).token();
        if (!check) co_return failure("authToken: " + check.error().message);
    }
    auto client = team.client_for(ctx.tenant(), settings, secret);
    auto verified = co_await client->list_credentials();
    if (!verified) co_return upstream("Rollout did not accept these settings; nothing was stored", verified.error());
    // Arguments are named first: GCC 12 destroys a temporary inside a co_await expression twice.
    const std::string settings_json = json::serialize(settings.to_json());
    const SharedSecret sealed = std::make_shared<crypto::SecretBytes>(crypto::SecretBytes::copy_of(secret));
    const SharedSecret sealed_webhook =
        std::make_shared<crypto::SecretBytes>(crypto::SecretBytes::copy_of(std::string_view(webhook_secret)));
    auto stored = co_await team.storage().call(&store_rollout_settings, ctx.tenant(), settings_json, sealed, sealed_webhook);
    if (!stored) co_return failure("could not store the Rollout settings: " + stored.error().message);
    team.forget(ctx.tenant());
    co_return success("Rollout is configured for this team (" + std::to_string(verified->size()) +
                          " connected credential(s) visible)",
                      {{"projectEnvKey", settings.project_env_key}, {"credentials", verified->size()},
                       {"timeZone", settings.time_zone},
                       {"webhookKey", webhook_key_source(!webhook_secret.empty(), !settings.client_id.empty())}});
}

asio::awaitable<ToolResult> list_available_crms(TeamRollout& team, ToolContext& ctx, const json::object&) {
    auto client = co_await team.client(ctx.tenant());
    if (!client) co_return failure(client.error().message);
    auto& rc = *client.value();
    auto connectors = co_await team.connectors(ctx.tenant(), rc);
    if (!connectors) co_return upstream("cannot list Rollout's CRM connectors", connectors.error());
    auto connected = co_await team.storage().call(&storage::Storage::list_crm_connections, ctx.tenant());
    if (!connected) co_return failure("cannot read this team's connections: " + connected.error().message);
    json::array crms;
    for (const auto& c : *connectors) {
        if (!c.crm) continue;
        bool configured = false;
        for (const auto& info : *connected) configured = configured || info.crm_type == c.key;
        crms.push_back(json::object{{"key", c.key}, {"name", c.name}, {"authType", c.auth_type}, {"configured", configured},
                                    {"appointments", c.supports("appointments", "create")}});
    }
    const auto n = crms.size();
    co_return success(std::to_string(n) + " CRM connector(s) available", {{"crms", std::move(crms)}});
}

asio::awaitable<ToolResult> configure_crm_connection(TeamRollout& team, HookSubscriptions* hooks, ToolContext& ctx,
                                                     const json::object& args) {
    const auto crm_type = rollout::canonical_crm_type(str(args, "crmType"));
    const auto credential = str(args, "credentialKey");
    if (auto bad = field_problem(RolloutField::credential_key, credential)) co_return failure(*bad);
    auto client = co_await team.client(ctx.tenant());
    if (!client) co_return failure(client.error().message);
    auto& rc = *client.value();
    auto connectors = co_await team.connectors(ctx.tenant(), rc);
    if (!connectors) co_return upstream("cannot list Rollout's CRM connectors", connectors.error());
    bool known = false;
    for (const auto& c : *connectors) known = known || (c.crm && c.key == crm_type);
    if (!known) co_return failure("crmType: \"" + crm_type + "\" is not a CRM connector in Rollout (see list_available_crms)");
    auto credentials = co_await rc.list_credentials(crm_type);
    if (!credentials) co_return upstream("cannot list Rollout credentials", credentials.error());
    const rollout::Credential* match = nullptr;
    for (const auto& c : *credentials)
        if (c.id == credential) match = &c;
    if (!match)
        co_return failure("credentialKey: Rollout has no credential \"" + credential + "\" for connector \"" + crm_type + "\"");
    if (match->app_key != crm_type)
        co_return failure("credentialKey: credential \"" + credential + "\" belongs to \"" + match->app_key + "\", not \"" + crm_type + "\"");
    if (hooks) {   // moving to another credential: the old one's subscriptions go (best effort, before it is forgotten)
        auto previous = co_await team.storage().call(&storage::Storage::get_crm_connection, ctx.tenant(), crm_type);
        if (previous && previous->credential_key.text() != credential) {
            const std::string old_credential(previous->credential_key.text());
            auto removed = co_await hooks->unsubscribe(ctx.tenant(), old_credential);
            (void)removed;
        }
    }
    const SharedSecret sealed = std::make_shared<crypto::SecretBytes>(crypto::SecretBytes::copy_of(credential));
    auto stored = co_await team.storage().call(&store_crm_connection, ctx.tenant(), crm_type, match->label, sealed);
    if (!stored) co_return failure("could not store the connection: " + stored.error().message);
    team.forget(ctx.tenant());   // this instance's cached settings (others see the new version: team_config_cache.hpp)
    json::object fields{{"crmType", crm_type}, {"label", match->label}};
    std::string message = crm_type + " is connected for this team";
    if (hooks) {   // the CRM's changes come back through Rollout's webhooks (README, "Changes from the CRM")
        const auto state = co_await hooks->subscribe(ctx.tenant(), crm_type);
        json::object changes{{"webhooks", state.subscribed ? "subscribed" : "off"}};
        if (!state.subscribed) {
            changes["reason"] = state.reason;
            message += "; its changes will not come back: " + state.reason;
        }
        fields["changes"] = std::move(changes);
    }
    co_return success(std::move(message), std::move(fields));
}

asio::awaitable<ToolResult> test_crm_connection(TeamRollout& team, ToolContext& ctx, const json::object& args) {
    const auto crm_type = rollout::canonical_crm_type(str(args, "crmType"));
    std::string credential = str(args, "credentialKey");
    if (credential.empty()) {
        auto stored = co_await team.storage().call(&storage::Storage::get_crm_connection, ctx.tenant(), crm_type);
        if (!stored)
            co_return failure("crmType: \"" + crm_type + "\" is not connected for this team; pass credentialKey or call configure_crm_connection");
        credential = std::string(stored->credential_key.text());
        // Never sent when it no longer fits (stored by an older version): X-Rollout-Credential-Id carries it.
        if (auto bad = field_problem(RolloutField::credential_key, credential))
            co_return failure("the stored " + crm_type + " connection is not usable (" + *bad +
                              "): call configure_crm_connection again");
    } else if (auto bad = field_problem(RolloutField::credential_key, credential)) {
        co_return failure(*bad);
    }
    auto client = co_await team.client(ctx.tenant());
    if (!client) co_return failure(client.error().message);
    auto probe = co_await client.value()->probe(credential);
    if (probe) co_return success(crm_type + " is ready", {{"crmType", crm_type}, {"state", "ready"}});
    const auto& e = probe.error();
    if (e.code == rollout::ErrorKind::not_ready)
        co_return success(crm_type + " is connected but Rollout is still syncing its data; try again in a minute",
                          {{"crmType", crm_type}, {"state", "not_ready"}, {"error", error_json(e)}});
    co_return failure(crm_type + " connection is not usable: " + e.describe(),
                      {{"crmType", crm_type}, {"state", "invalid"}, {"error", error_json(e)}});
}

asio::awaitable<ToolResult> list_crm_connections(TeamRollout& team, HookSubscriptions* hooks, ToolContext& ctx,
                                                 const json::object&) {
    auto list = co_await team.storage().call(&storage::Storage::list_crm_connections, ctx.tenant());
    if (!list) co_return failure("cannot read this team's connections: " + list.error().message);
    json::array out;
    for (const auto& c : *list)
        out.push_back(json::object{{"crmType", c.crm_type}, {"label", c.label}, {"createdAt", c.created_at}, {"updatedAt", c.updated_at}});
    const auto n = out.size();
    std::string message = std::to_string(n) + " CRM connection(s)";
    json::object fields{{"connections", std::move(out)}};
    const std::string tenant = ctx.tenant();
    const auto auth = co_await team.storage().call(&rollout_auth_view, tenant);
    if (!auth.mode.empty()) {
        json::object view{{"mode", auth.mode}};
        if (auth.expires_at_s > 0) {
            const bool expired = auth.expires_at_s * 1000 <= unix_now_ms();
            view["expiresAt"] = iso8601_utc_ms(auth.expires_at_s * 1000);
            view["expired"] = expired;
            message += std::string("; the Rollout authToken ") + (expired ? "expired" : "expires") + " at " +
                       iso8601_utc_ms(auth.expires_at_s * 1000) +
                       ": background syncs and CRM change fetches stop then (configure_rollout with clientId + "
                       "clientSecret mints tokens as needed)";
        }
        fields["rolloutAuth"] = std::move(view);
    }
    if (hooks) {
        const std::string public_url = hooks->public_url();
        auto why = co_await team.storage().call(&change_notice, tenant, public_url);
        json::object changes{{"webhooks", why.empty() ? "available" : "off"}};
        if (!why.empty()) changes["reason"] = why;
        fields["changes"] = std::move(changes);
    }
    co_return success(std::move(message), std::move(fields));
}

asio::awaitable<ToolResult> remove_crm_connection(TeamRollout& team, HookSubscriptions* hooks, ToolContext& ctx,
                                                  const json::object& args) {
    const auto crm_type = rollout::canonical_crm_type(str(args, "crmType"));
    std::string unsubscribed;   // best effort: the route dies with the connection, so a leftover only gets 404s
    if (hooks) {
        auto stored = co_await team.storage().call(&storage::Storage::get_crm_connection, ctx.tenant(), crm_type);
        if (stored) {
            const std::string old_credential(stored->credential_key.text());
            auto removed = co_await hooks->unsubscribe(ctx.tenant(), old_credential);
            if (!removed) unsubscribed = "; its webhook subscriptions at Rollout could not be removed (" +
                                         hook_mapping::scrub(removed.error().describe(), {old_credential}) +
                                         "): they now get 404";
        }
    }
    auto done = co_await team.storage().call(&storage::Storage::delete_crm_connection, ctx.tenant(), crm_type);
    team.forget(ctx.tenant());
    if (!done) {
        if (done.error().code == storage::ErrorCode::not_found)
            co_return failure("crmType: \"" + crm_type + "\" is not connected for this team");
        co_return failure("could not remove the connection: " + done.error().message);
    }
    co_return success(crm_type + " is disconnected for this team" + unsubscribed, {{"crmType", crm_type}});
}

}  // namespace

void register_config_tools(ToolRegistry& registry, TeamRollout& team, HookSubscriptions* hooks) {
    auto bind = [&team](auto fn) {
        return [&team, fn](ToolContext& ctx, const json::object& args) { return fn(team, ctx, args); };
    };
    auto bind_hooks = [&team, hooks](auto fn) {
        return [&team, hooks, fn](ToolContext& ctx, const json::object& args) { return fn(team, hooks, ctx, args); };
    };
    registry.add(define("configure_rollout", "Configure Rollout",
                        "Store this team's Rollout settings after checking them against Rollout. Give projectEnvKey "
                        "and either authToken (a Rollout JWT) or clientId + clientSecret; baseUrl (an origin "
                        "the operator listed in [rollout] allowed_base_urls) points every Rollout host at one server. "
                        "webhookSecret is the key Rollout signs its webhooks with (default: clientSecret; with "
                        "authToken alone and no webhookSecret, no webhooks). Each call replaces the previous "
                        "settings. Nothing is stored when Rollout rejects them; secrets are never shown again.",
                        R"json({"type":"object","additionalProperties":false,"required":["projectEnvKey"],
                           "anyOf":[{"required":["authToken"]},{"required":["clientId","clientSecret"]}],"properties":{
                           "projectEnvKey":{"type":"string","minLength":1,"maxLength":128,"pattern":"^[A-Za-z0-9_-]+$","description":"Rollout project environment key"},
                           "authToken":{"type":"string","minLength":1,"maxLength":8192,"description":"Rollout JWT (HS512) for this team"},
                           "clientId":{"type":"string","minLength":1,"maxLength":256,"description":"Rollout client id (mint tokens locally)"},
                           "clientSecret":{"type":"string","minLength":1,"maxLength":1024,"description":"Rollout client secret"},
                           "webhookSecret":{"type":"string","description":"the key of Rollout's X-Rollout-Signature (HMAC-SHA256), at least 16 characters; default: clientSecret"},
                           "baseUrl":{"type":"string","minLength":1,"maxLength":2048,"description":"one origin (scheme://host[:port]) for all Rollout hosts; must be in the server's [rollout] allowed_base_urls"},
                           "timeZone":{"type":"string","minLength":1,"maxLength":64,"description":"the team's IANA time zone (e.g. America/Chicago): visit times and feedback timestamps without a UTC offset are read in it unless the call gives a zone"}}})json",
                        {{"projectEnvKey", json::object{{"type", "string"}}},
                         {"webhookKey", json::object{{"type", "string"}, {"enum", json::array{"webhookSecret", "clientSecret", "none"}}}}},
                        bind(configure_rollout), false));
    registry.add(define("list_available_crms", "List available CRMs",
                        "List the CRM connectors Rollout offers, each marked configured or not for this team.",
                        R"json({"type":"object","additionalProperties":false,"properties":{}})json",
                        {{"crms", json::object{{"type", "array"}}}}, bind(list_available_crms), true));
    const char* crm_args = R"json({"type":"object","additionalProperties":false,"required":["crmType","credentialKey"],"properties":{
        "crmType":{"type":"string","minLength":1,"maxLength":64,"description":"connector key, e.g. highlevel, lofty, follow-up-boss (aliases: gohighlevel, fub, kvcore, chime)"},
        "credentialKey":{"type":"string","minLength":1,"maxLength":256,"description":"the Rollout credential id of the connected CRM account"}}})json";
    registry.add(define("configure_crm_connection", "Connect a CRM",
                        "Bind a CRM type to a Rollout credential for this team, after checking that the credential "
                        "exists in Rollout and belongs to that connector.",
                        crm_args, {{"crmType", json::object{{"type", "string"}}}}, bind_hooks(configure_crm_connection), false));
    registry.add(define("test_crm_connection", "Test a CRM connection",
                        "Check a CRM connection end to end (the stored one, or credentialKey if given): ready, not "
                        "ready yet (Rollout still syncing), or invalid.",
                        R"json({"type":"object","additionalProperties":false,"required":["crmType"],"properties":{
                           "crmType":{"type":"string","minLength":1,"maxLength":64},
                           "credentialKey":{"type":"string","minLength":1,"maxLength":256}}})json",
                        {{"state", json::object{{"type", "string"}}}}, bind(test_crm_connection), true));
    registry.add(define("list_crm_connections", "List CRM connections", "List the CRMs this team has connected.",
                        R"json({"type":"object","additionalProperties":false,"properties":{}})json",
                        {{"connections", json::object{{"type", "array"}}}}, bind_hooks(list_crm_connections), true));
    registry.add(define("remove_crm_connection", "Disconnect a CRM", "Remove this team's connection to a CRM.",
                        R"json({"type":"object","additionalProperties":false,"required":["crmType"],"properties":{
                           "crmType":{"type":"string","minLength":1,"maxLength":64}}})json",
                        {{"crmType", json::object{{"type", "string"}}}}, bind_hooks(remove_crm_connection), false));
}

void register_rollout_tools(ToolRegistry& registry, TeamRollout& team, SyncToolsDeps sync, HookSubscriptions* hooks) {
    register_config_tools(registry, team, hooks);
    register_sync_tools(registry, sync);
    register_sync_status_tools(registry, sync);
    register_automation_tool(registry, team);
}

}  // namespace rollout_mcp
