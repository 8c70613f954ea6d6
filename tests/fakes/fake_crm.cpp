// The fake CRM host (crm.universal.rollout.com/api, rollout-api.md section 1.2): JWT + X-Rollout-Credential-Id
// checks, 409 not-ready, per-credential CRUD with required-field validation and _metadata paging.
#include "fake_store.hpp"

#include "fake_jwt.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <regex>

namespace rollout_mcp::fake {
namespace json = boost::json;

namespace {

struct Kind {
    std::string_view name;
    std::vector<std::string_view> required;   // "*" fields of the request schema
};

const std::vector<Kind>& kinds() {
    static const std::vector<Kind> k = {
        {"people", {"firstName", "lastName"}},
        {"notes", {"personId"}},
        {"events", {}},
        {"tasks", {"personId"}},
        {"appointments", {"personId", "appointmentTypeId", "title", "location"}},
        {"appointment-types", {"name", "orderWeight"}},
        {"appointment-outcomes", {"name"}},
        {"users", {"email"}},
    };
    return k;
}

const Kind* find_kind(std::string_view name) {
    for (const auto& k : kinds())
        if (k.name == name) return &k;
    return nullptr;
}

bool blank(const json::value& v) { return v.is_null() || (v.is_string() && v.get_string().empty()); }

// ISO 8601 date or date-time (offset optional), or epoch milliseconds as a number.
bool valid_time(const json::value& v) {
    static const std::regex iso(R"(^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$)");
    if (v.is_number()) return true;
    return v.is_string() && std::regex_match(std::string(v.get_string()), iso);
}

std::string id_text(const json::value& v) {
    if (v.is_string()) return std::string(v.get_string());
    if (v.is_int64()) return std::to_string(v.get_int64());
    if (v.is_uint64()) return std::to_string(v.get_uint64());
    return {};
}

std::optional<json::object> parse_body(const Request& req, Reply& error) {
    boost::system::error_code ec;
    auto v = json::parse(req.body, ec);
    if (ec || !v.is_object()) {
        error = error_reply(400, "Request body must be a JSON object");
        return std::nullopt;
    }
    return std::move(v.as_object());
}

bool email_matches(const json::object& person, std::string_view wanted) {
    auto lower = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    auto emails = person.if_contains("emails");
    if (!emails || !emails->is_array()) return false;
    for (const auto& e : emails->get_array())
        if (e.is_object())
            if (auto v = e.get_object().if_contains("value"); v && v->is_string() &&
                                                              lower(std::string(v->get_string())) == lower(std::string(wanted)))
                return true;
    return false;
}

bool phone_matches(const json::object& person, std::string_view wanted) {
    // The national number (last ten digits), as CRMs match "+1 512 555 0100" with "5125550100".
    auto digits = [](std::string_view s) {
        std::string d;
        for (char c : s)
            if (std::isdigit(static_cast<unsigned char>(c))) d += c;
        return d.size() > 10 ? d.substr(d.size() - 10) : d;
    };
    auto phones = person.if_contains("phones");
    if (!phones || !phones->is_array()) return false;
    for (const auto& p : phones->get_array())
        if (p.is_object())
            if (auto v = p.get_object().if_contains("value"); v && v->is_string() &&
                                                              digits(v->get_string()) == digits(wanted))
                return true;
    return false;
}

}  // namespace

std::vector<std::string> crm_kinds() {
    std::vector<std::string> out;
    for (const auto& k : kinds()) out.emplace_back(k.name);
    return out;
}

std::optional<std::string> Store::validate(Credential& cred, const std::string& kind, const json::object& body,
                                           bool partial) {
    const Kind* k = find_kind(kind);
    for (auto field : k->required) {
        auto v = body.if_contains(field);
        if (partial ? (v && blank(*v)) : (!v || blank(*v)))
            return std::string(field) + " is required";
    }
    if (auto v = body.if_contains("orderWeight"); v && !v->is_number()) return "orderWeight must be a number";
    for (std::string_view list : {"emails", "phones"}) {
        auto v = body.if_contains(list);
        if (!v || v->is_null()) continue;
        if (!v->is_array()) return std::string(list) + " must be an array";
        for (const auto& item : v->get_array()) {
            const json::value* value = item.is_object() ? item.get_object().if_contains("value") : nullptr;
            if (!value || !value->is_string() || value->get_string().empty())
                return std::string(list) + "[].value is required";
        }
    }
    if (auto v = body.if_contains("tags"); v && !v->is_null() && !v->is_array()) return "tags must be an array";
    for (std::string_view field : {"startsAt", "endsAt", "dueDateTime", "occurredAt"})
        if (auto v = body.if_contains(field); v && !v->is_null() && !valid_time(*v))
            return std::string(field) + " must be an ISO 8601 date-time or epoch milliseconds";
    if (auto v = body.if_contains("personId"); v && !v->is_null()) {
        if (!crm_[cred.id]["people"].find(id_text(*v))) return "personId " + id_text(*v) + " does not exist";
    }
    if (auto v = body.if_contains("appointmentTypeId"); v && !v->is_null()) {
        if (!crm_[cred.id]["appointment-types"].find(id_text(*v)))
            return "appointmentTypeId " + id_text(*v) + " does not exist";
    }
    return std::nullopt;
}

Reply Store::handle_crm(const Request& req, std::string_view rest) {
    auto jwt = verify_bearer(req.header("authorization"), secret_);
    if (!jwt.ok) return error_reply(401, jwt.error);
    const auto cred_id = req.header("x-rollout-credential-id");
    if (cred_id.empty()) return error_reply(400, "X-Rollout-Credential-Id header is required");
    Credential* cred = find_credential(cred_id);
    if (!cred || cred->sub != jwt.claims["sub"].as_string()) return error_reply(403, "Invalid credentials");
    if (!cred->ready()) return error_reply(409, kNotReadyMessage);

    // rest: "people", "people/{id}", "people/{id}/tags/apply"
    std::vector<std::string> parts;
    for (std::size_t pos = 0; pos <= rest.size();) {
        auto slash = rest.find('/', pos);
        if (slash == std::string_view::npos) slash = rest.size();
        parts.emplace_back(url_decode(rest.substr(pos, slash - pos)));
        pos = slash + 1;
    }
    if (!parts.empty() && parts[0] == "webhooks") return crm_webhooks(req, *cred, parts);
    if (parts.empty() || !find_kind(parts[0])) return error_reply(404, "Not found: /" + std::string(rest));
    const std::string& kind = parts[0];
    const std::string& m = req.method;
    if (parts.size() == 1) {
        if (m == "GET") return crm_list(req, *cred, kind);
        if (m == "POST") return crm_create(req, *cred, kind);
        return error_reply(405, "Method not allowed");
    }
    const std::string& id = parts[1];
    auto& coll = crm_[cred->id][kind];
    auto* rec = coll.find(id);
    if (parts.size() == 4 && kind == "people" && parts[2] == "tags" && (parts[3] == "apply" || parts[3] == "delete")) {
        if (m != "POST") return error_reply(405, "Method not allowed");
        if (!rec) return error_reply(404, "Record not found: " + kind + "/" + id);
        return crm_tags(req, *cred, id, parts[3] == "apply");
    }
    if (parts.size() != 2) return error_reply(404, "Not found: /" + std::string(rest));
    if (!rec) return error_reply(404, "Record not found: " + kind + "/" + id);
    if (m == "GET") return json_reply(200, *rec);
    if (m == "PUT") return crm_update(req, *cred, kind, id);
    if (m == "DELETE") {
        coll.items.erase(coll.index.at(id));
        coll.index.erase(id);
        return json_reply(200, json::array{});
    }
    return error_reply(405, "Method not allowed");
}

Reply Store::crm_list(const Request& req, Credential& cred, const std::string& kind) {
    auto num = [&](const char* name, std::int64_t fallback) -> std::optional<std::int64_t> {
        auto it = req.params.find(name);
        if (it == req.params.end() || it->second.empty()) return fallback;
        if (!std::all_of(it->second.begin(), it->second.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
            it->second.size() > 9)
            return std::nullopt;
        return std::stoll(it->second);
    };
    auto limit = num("limit", 10);
    auto offset = num("offset", 0);
    if (!limit || *limit < 1) return error_reply(400, "limit must be a positive integer");
    if (!offset) return error_reply(400, "offset must be a non-negative integer");
    *limit = std::min<std::int64_t>(*limit, 100);
    if (auto it = req.params.find("next"); it != req.params.end() && !it->second.empty()) {
        auto decoded = base64url_decode(it->second);
        if (!decoded || decoded->rfind("offset:", 0) != 0) return error_reply(400, "invalid next cursor");
        offset = std::stoll(decoded->substr(7));
    }
    // Filters: ids=a,b (webhook uri), email= / phone= on people, personId= on the rest.
    std::vector<const json::object*> matched;
    std::vector<std::string> ids;
    if (auto it = req.params.find("ids"); it != req.params.end())
        for (std::size_t pos = 0; pos <= it->second.size();) {
            auto comma = std::min(it->second.find(',', pos), it->second.size());
            ids.push_back(it->second.substr(pos, comma - pos));
            pos = comma + 1;
        }
    for (const auto& [key, rec] : crm_[cred.id][kind].items) {
        auto param = [&](const char* name) -> const std::string* {
            auto it = req.params.find(name);
            return it == req.params.end() ? nullptr : &it->second;
        };
        if (!ids.empty() && std::find(ids.begin(), ids.end(), std::string(rec.at("id").as_string())) == ids.end()) continue;
        if (auto e = param("email"); e && kind == "people" && !email_matches(rec, *e)) continue;
        if (auto p = param("phone"); p && kind == "people" && !phone_matches(rec, *p)) continue;
        if (auto p = param("personId"); p && kind != "people") {
            auto v = rec.if_contains("personId");
            if (!v || id_text(*v) != *p) continue;
        }
        matched.push_back(&rec);
    }
    const auto total = static_cast<std::int64_t>(matched.size());
    json::array page;
    for (auto i = *offset; i < total && i < *offset + *limit; ++i) page.push_back(*matched[static_cast<std::size_t>(i)]);
    json::value next = nullptr, next_link = nullptr;
    if (*offset + *limit < total) {
        const auto cursor = base64url_encode("offset:" + std::to_string(*offset + *limit));
        next = cursor;
        auto params = req.params;
        params.erase("offset");
        params["next"] = cursor;
        std::string link = (req.tls ? "https://" : "http://") + req.header("host") + req.path + "?";
        bool first = true;
        for (const auto& [k, v] : params) {
            link += (first ? "" : "&") + k + "=" + v;
            first = false;
        }
        next_link = link;
    }
    json::object metadata{{"collection", kind}, {"offset", *offset}, {"limit", *limit},
                          {"total", total},     {"next", next},       {"nextLink", next_link}};
    return json_reply(200, json::object{{"_metadata", std::move(metadata)}, {kind, std::move(page)}});
}

Reply Store::crm_create(const Request& req, Credential& cred, const std::string& kind) {
    Reply error;
    auto body = parse_body(req, error);
    if (!body) return error;
    if (auto problem = validate(cred, kind, *body, false)) return error_reply(400, *problem);
    if (kind == "people") {
        (*body)["name"] = std::string((*body)["firstName"].as_string()) + " " + std::string((*body)["lastName"].as_string());
        if (!body->contains("tags")) (*body)["tags"] = json::array{};
        for (const char* list : {"emails", "phones", "addresses"})
            if (!body->contains(list)) (*body)[list] = json::array{};
    }
    return json_reply(201, insert(cred, kind, std::move(*body)));
}

Reply Store::crm_update(const Request& req, Credential& cred, const std::string& kind, const std::string& id) {
    Reply error;
    auto body = parse_body(req, error);
    if (!body) return error;
    if (auto problem = validate(cred, kind, *body, true)) return error_reply(400, *problem);
    auto& rec = *crm_[cred.id][kind].find(id);
    const bool merge_tags = req.params.count("mergeTags") && req.params.at("mergeTags") == "true";
    for (auto& [key, value] : *body) {
        if (key == "id" || key == "created") continue;
        if (key == "tags" && merge_tags && rec["tags"].is_array() && value.is_array()) {
            for (const auto& t : value.get_array())
                if (std::find(rec["tags"].as_array().begin(), rec["tags"].as_array().end(), t) == rec["tags"].as_array().end())
                    rec["tags"].as_array().push_back(t);
            continue;
        }
        rec[key] = value;
    }
    if (kind == "people" && rec["firstName"].is_string() && rec["lastName"].is_string())
        rec["name"] = std::string(rec["firstName"].as_string()) + " " + std::string(rec["lastName"].as_string());
    rec["updated"] = rec["rolloutUpdated"] = now_iso();
    return json_reply(200, rec);
}

Reply Store::crm_tags(const Request& req, Credential& cred, const std::string& id, bool apply) {
    Reply error;
    auto body = parse_body(req, error);
    if (!body) return error;
    auto tags = body->if_contains("tags");
    if (!tags || !tags->is_array() || tags->get_array().empty()) return error_reply(400, "tags is required");
    auto& rec = *crm_[cred.id]["people"].find(id);
    if (!rec["tags"].is_array()) rec["tags"] = json::array{};
    auto& have = rec["tags"].as_array();
    for (const auto& t : tags->get_array()) {
        auto it = std::find(have.begin(), have.end(), t);
        if (apply && it == have.end()) have.push_back(t);
        if (!apply && it != have.end()) have.erase(it);
    }
    rec["updated"] = rec["rolloutUpdated"] = now_iso();
    return json_reply(200, rec);
}

}  // namespace rollout_mcp::fake
