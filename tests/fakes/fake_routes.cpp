// Request dispatch for the fake Rollout by path prefix, and the platform host (/platform/api: connectors,
// credentials), the v2 automation host (/automation/api) and the test/inspection API (/_fake/).
#include "fake_store.hpp"

#include "fake_jwt.hpp"

#include <boost/json/parse.hpp>

#include <stdexcept>

namespace rollout_mcp::fake {
namespace json = boost::json;

namespace {

std::optional<json::object> body_object(const Request& req) {
    boost::system::error_code ec;
    auto v = json::parse(req.body.empty() ? std::string_view("{}") : std::string_view(req.body), ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::string str(const json::object& o, std::string_view key) {
    auto v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string{};
}

json::object crm_entities(bool appointments) {
    auto all = [] { return json::object{{"list", true}, {"create", true}, {"update", true}, {"delete", true}}; };
    json::object crm{{"people", all()}, {"notes", all()}, {"tasks", all()}, {"events", all()},
                     {"appointment-types", json::object{{"list", true}, {"create", false}, {"update", false}, {"delete", false}}},
                     {"users", json::object{{"list", true}, {"create", false}, {"update", false}, {"delete", false}}}};
    crm["appointments"] = json::object{{"list", true}, {"create", appointments}, {"update", appointments}, {"delete", appointments}};
    return crm;
}

json::object auth_plan(std::string_view type) {
    json::array inputs;
    if (type == "apiToken") inputs.push_back(json::object{{"type", "secret"}, {"key", "apiKey"}, {"label", "API key"}});
    return {{"default", json::object{{"type", type}, {"userInputsSchema", std::move(inputs)}}}};
}

// The ?-validated trigger/action half of a v2 automation; returns the problem or "".
std::string automation_half(const json::object& body, std::string_view half, std::string_view key_field) {
    auto v = body.if_contains(half);
    if (!v || !v->is_object()) return std::string(half) + " is required";
    const auto& o = v->get_object();
    for (std::string_view field : {std::string_view("appKey"), key_field, std::string_view("credentialKey")})
        if (str(o, field).empty()) return std::string(half) + "." + std::string(field) + " is required";
    if (auto p = o.if_contains("inputParams"); !p || !p->is_object())
        return std::string(half) + ".inputParams must be an object";
    return {};
}

}  // namespace

json::object connector_catalog() {
    struct C { const char* key; const char* name; const char* auth; bool crm; bool appointments; };
    static constexpr C list[] = {
        {"highlevel", "GoHighLevel", "oauth2", true, true},
        {"lofty", "Lofty", "oauth2", true, true},
        {"follow-up-boss", "Follow Up Boss", "apiToken", true, true},
        {"boldtrail", "BoldTrail", "apiToken", true, true},
        {"hubspot", "HubSpot", "oauth2", true, false},
        {"salesforce", "Salesforce", "oauth2", true, false},
        {"dotloop", "dotloop", "oauth2", false, false},
    };
    json::object out;
    for (const auto& c : list) {
        json::object entities;
        if (c.crm) entities["crm"] = crm_entities(c.appointments);
        else entities["tms"] = json::object{{"transactions", json::object{{"list", true}, {"create", true}, {"update", true}, {"delete", false}}}};
        out[c.key] = json::object{{"name", c.name}, {"entities", std::move(entities)}, {"authByPlan", auth_plan(c.auth)}};
    }
    return out;
}

Reply Store::handle(const Request& req) {
    std::string_view path = req.path;
    auto strip = [&](std::string_view prefix) {
        if (path == prefix.substr(0, prefix.size() - 1)) return std::optional<std::string_view>(std::string_view{});
        if (path.rfind(prefix, 0) == 0) return std::optional<std::string_view>(path.substr(prefix.size()));
        return std::optional<std::string_view>{};
    };
    std::lock_guard lock(mu_);
    if (auto rest = strip("/_fake/")) return handle_fake(req, *rest);
    if (auto rest = strip("/platform/api/")) return handle_platform(req, *rest);
    if (auto rest = strip("/crm/api/")) return handle_crm(req, *rest);
    if (auto rest = strip("/automation/api/")) return handle_automation(req, *rest);
    return error_reply(404, "Not found: " + req.path);
}

Reply Store::handle_platform(const Request& req, std::string_view rest) {
    auto jwt = verify_bearer(req.header("authorization"), secret_);
    if (!jwt.ok) return error_reply(401, jwt.error);
    const std::string sub(jwt.claims["sub"].as_string());
    if (rest == "connectors" && req.method == "GET") return json_reply(200, connector_catalog());
    if (rest != "credentials") return error_reply(404, "Not found: " + req.path);
    if (req.method == "GET") {
        const auto app = req.params.count("appKey") ? req.params.at("appKey") : std::string{};
        const bool profile = req.params.count("includeProfile") && req.params.at("includeProfile") == "true";
        json::array out;
        for (const auto& c : credentials_)
            if (c.sub == sub && (app.empty() || c.app_key == app)) {
                auto j = c.to_json();
                if (profile) j["profile"] = json::object{{"accountName", c.label}};
                out.push_back(std::move(j));
            }
        return json_reply(200, out);
    }
    if (req.method == "POST") {
        auto body = body_object(req);
        if (!body) return error_reply(400, "Request body must be a JSON object");
        const auto app = str(*body, "appKey");
        if (app.empty()) return error_reply(400, "appKey is required");
        if (!connector_catalog().contains(app)) return error_reply(400, "Unknown appKey: " + app);
        std::string label;
        if (auto in = body->if_contains("userInputs"); in && in->is_object()) label = str(in->get_object(), "label");
        return json_reply(200, create_credential(app, sub, label, std::chrono::milliseconds{0}).to_json());
    }
    if (req.method == "DELETE") {
        const auto id = req.params.count("credentialId") ? req.params.at("credentialId") : std::string{};
        if (id.empty()) return error_reply(400, "credentialId is required");
        for (auto it = credentials_.begin(); it != credentials_.end(); ++it)
            if (it->id == id && it->sub == sub) {
                crm_.erase(id);
                credentials_.erase(it);
                return json_reply(200, json::object{});
            }
        return error_reply(404, "Credential not found: " + id);
    }
    return error_reply(405, "Method not allowed");
}

Reply Store::handle_automation(const Request& req, std::string_view rest) {
    auto jwt = verify_bearer(req.header("authorization"), secret_);
    if (!jwt.ok) return error_reply(401, jwt.error);
    const std::string sub(jwt.claims["sub"].as_string());
    if (rest == "automations" && req.method == "GET") {
        json::array out;
        for (const auto& a : automations_)
            if (a.at("consumerKey").as_string() == sub) out.push_back(a);
        return json_reply(200, out);
    }
    if (rest == "automations" && req.method == "POST") {
        auto body = body_object(req);
        if (!body) return error_reply(400, "Request body must be a JSON object");
        if (str(*body, "name").empty()) return error_reply(400, "name is required");
        for (auto problem : {automation_half(*body, "trigger", "triggerKey"), automation_half(*body, "action", "actionKey")})
            if (!problem.empty()) return error_reply(400, problem);
        // Like Rollout, the project environment decides: each half's credential must be one of this
        // consumer's credentials for that app.
        for (const char* half : {"trigger", "action"}) {
            const auto& h = body->at(half).as_object();
            const auto key = str(h, "credentialKey"), app = str(h, "appKey");
            const Credential* c = find_credential(key);
            if (!c || c->sub != sub || c->app_key != app)
                return error_reply(400, std::string(half) + ".credentialKey: credential " + key + " not found for app " +
                                            app + " in this project environment");
        }
        const auto ts = now_iso();
        json::object a{{"id", next_id("automation")}, {"createdAt", ts}, {"updatedAt", ts}, {"status", "READY"},
                       {"active", true}, {"live", false}, {"name", str(*body, "name")}, {"consumerKey", sub},
                       {"blueprintKey", nullptr}, {"customData", nullptr},
                       {"trigger", body->at("trigger")}, {"action", body->at("action")}};
        if (auto cd = body->if_contains("customData"); cd && cd->is_object()) a["customData"] = *cd;
        automations_.push_back(a);
        return json_reply(200, a);
    }
    if (rest == "automation-runs" && req.method == "GET") return json_reply(200, json::array{});
    if (rest == "trigger-push-event" && req.method == "POST") {
        auto body = body_object(req);
        if (!body) return error_reply(400, "Request body must be a JSON object");
        for (std::string_view f : {"appKey", "triggerKey"})
            if (str(*body, f).empty()) return error_reply(400, std::string(f) + " is required");
        if (!body->contains("payload")) return error_reply(400, "payload is required");
        (*body)["consumerKey"] = sub;
        (*body)["receivedAt"] = now_iso();
        push_events_.push_back(*body);
        return json_reply(200, json::object{{"ok", true}});
    }
    // Assumed REST views of what the v2 UI reads over tRPC (apps.list, apps.credentials).
    if (rest == "apps" && req.method == "GET") {
        json::array out;
        for (const auto& [key, c] : connector_catalog()) out.push_back(json::object{{"appKey", key}, {"name", c.as_object().at("name")}});
        return json_reply(200, out);
    }
    if (rest == "credentials" && req.method == "GET") {
        const auto app = req.params.count("appKey") ? req.params.at("appKey") : std::string{};
        json::array out;
        for (const auto& c : credentials_)
            if (c.sub == sub && (app.empty() || c.app_key == app))
                out.push_back(json::object{{"credentialKey", c.id}, {"credentialType", "PRIMARY"}, {"appKey", c.app_key},
                                           {"label", c.label}, {"avatar", nullptr}});
        return json_reply(200, out);
    }
    return error_reply(404, "Not found: " + req.path);
}

Reply Store::handle_fake(const Request& req, std::string_view rest) {
    const auto& m = req.method;
    if (rest == "state" && m == "GET") return json_reply(200, state_unlocked());
    if (rest == "health" && m == "GET") return json_reply(200, json::object{{"ok", true}});
    if (rest == "reset" && m == "POST") {
        reset_unlocked();
        return json_reply(200, json::object{{"ok", true}});
    }
    if (rest.rfind("webhooks/", 0) == 0 && m == "GET") {   // a credential's subscriptions (POST /crm/api/webhooks)
        const auto it = webhooks_.find(std::string(rest.substr(9)));
        return json_reply(200, it == webhooks_.end() ? json::array{} : json::array(it->second.begin(), it->second.end()));
    }
    if (rest == "requests" && m == "GET") {
        std::uint64_t since = 0;
        if (auto it = req.params.find("since"); it != req.params.end()) since = std::strtoull(it->second.c_str(), nullptr, 10);
        json::array out;
        for (const auto& r : log_)
            if (r.seq > since) out.push_back(r.to_json());
        return json_reply(200, out);
    }
    if (rest == "requests" && m == "DELETE") {
        log_.clear();
        return json_reply(200, json::object{{"ok", true}});
    }
    auto body = body_object(req);
    if (!body && (m == "POST")) return error_reply(400, "Request body must be a JSON object");
    if (rest == "credentials" && m == "POST") {
        const auto app = str(*body, "appKey"), sub = str(*body, "sub");
        if (app.empty() || sub.empty()) return error_reply(400, "appKey and sub are required");
        std::int64_t not_ready = 0;
        if (auto v = body->if_contains("notReadyMs"); v && v->is_int64()) not_ready = v->get_int64();
        const auto id = str(*body, "id");   // optional: a fixed id, e.g. a v2 credential key a client hard-codes
        if (!id.empty() && find_credential(id)) return error_reply(409, "Credential " + id + " already exists");
        auto& c = create_credential(app, sub, str(*body, "label"), std::chrono::milliseconds(not_ready), id);
        auto j = c.to_json();
        j["sub"] = c.sub;
        j["ready"] = c.ready();
        return json_reply(201, j);
    }
    if (rest.rfind("credentials/", 0) == 0 && rest.size() > 18 && rest.substr(rest.size() - 6) == "/ready" && m == "POST") {
        auto* c = find_credential(std::string(rest.substr(12, rest.size() - 18)));
        if (!c) return error_reply(404, "Credential not found");
        c->ready_at = std::chrono::steady_clock::now();
        return json_reply(200, c->to_json());
    }
    if (rest == "faults" && m == "GET") return json_reply(200, state_unlocked().at("faults"));
    if (rest == "faults" && m == "POST") {
        try {
            auto rule = FaultRule::from_json(*body);
            faults_.emplace_back(++fault_counter_, rule);
            auto j = rule.to_json();
            j["id"] = fault_counter_;
            return json_reply(201, j);
        } catch (const std::invalid_argument& e) {
            return error_reply(400, e.what());
        }
    }
    if (rest == "faults" && m == "DELETE") {
        faults_.clear();
        return json_reply(200, json::object{{"ok", true}});
    }
    if (rest == "jwt" && m == "POST") {
        const auto sub = str(*body, "sub");
        if (sub.empty()) return error_reply(400, "sub is required");
        std::int64_t ttl = 3600;
        if (auto v = body->if_contains("ttlSeconds"); v && v->is_int64()) ttl = v->get_int64();
        return json_reply(200, json::object{{"token", mint_hs512_jwt(secret_, sub, std::chrono::seconds(ttl))}});
    }
    return error_reply(404, "Not found: " + req.path);
}

}  // namespace rollout_mcp::fake
