#include "client.hpp"
#include "list_outline.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>

namespace rollout_mcp::rollout {
namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::verb;

std::string RolloutEndpoints::automation_for(std::string_view key) {
    return "https://" + std::string(key) + ".rolloutapp.com/api";
}

RolloutEndpoints RolloutEndpoints::all_at(std::string_view base_url) {
    std::string base(base_url);
    while (!base.empty() && base.back() == '/') base.pop_back();
    return {base + "/platform/api", base + "/crm/api", base + "/automation/api"};
}

bool Connector::supports(std::string_view entity, std::string_view op) const {
    const auto* e = crm_entities.if_contains(entity);
    if (!e || !e->is_object()) return false;
    const auto* f = e->as_object().if_contains(op);
    return f && f->is_bool() && f->get_bool();
}

std::string id_of(const json::value& v) {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_int64()) return std::to_string(v.get_int64());
    if (v.is_uint64()) return std::to_string(v.get_uint64());
    return {};
}

std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

RolloutClient::RolloutClient(std::shared_ptr<HttpPool> pool, ClientConfig config)
    : pool_(std::move(pool)), config_(std::move(config)) {
    if (!config_.automation_auth) config_.automation_auth = config_.auth;
}

asio::awaitable<Result<json::value>> RolloutClient::request(Host host, verb method, std::string path,
                                                            json::value body, std::string cred) {
    auto r = co_await request_text(host, method, std::move(path), std::move(body), std::move(cred));
    if (!r) co_return std::move(r).error();
    co_return parse_reply(r.value(), method);
}

Result<json::value> RolloutClient::parse_reply(const HttpResponse& r, verb method) {
    if (r.body.find_first_not_of(" \t\r\n") == std::string::npos) return json::value(nullptr);
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec)
        return Error{ErrorKind::permanent, r.status,
                     "Rollout answered HTTP " + std::to_string(r.status) + " with a body that is not JSON",
                     method != verb::get};
    return v;
}

asio::awaitable<Result<HttpResponse>> RolloutClient::request_text(Host host, verb method, std::string path,
                                                                  json::value body, std::string cred) {
    const std::string& base = host == Host::platform ? config_.endpoints.platform
                              : host == Host::crm    ? config_.endpoints.crm
                                                     : config_.endpoints.automation;
    if (base.empty())
        co_return Error{ErrorKind::permanent, 0,
                        host == Host::automation ? "no Rollout project environment (projectEnvKey) is configured"
                                                 : "no Rollout base URL configured"};
    auto& source = host == Host::automation ? config_.automation_auth : config_.auth;
    if (!source) co_return Error{ErrorKind::auth, 0, "no Rollout credentials configured"};
    auto token = source->token();
    if (!token) co_return std::move(token).error();
    if (host == Host::crm && cred.empty())
        co_return Error{ErrorKind::validation, 0, "a CRM call needs a Rollout credential id"};

    HttpRequest req;
    req.method = method;
    req.url = base + path;
    req.label = config_.metrics_label;
    req.partition = config_.partition;
    req.headers.emplace_back("Authorization", "Bearer " + token.value());
    if (!cred.empty()) req.headers.emplace_back("X-Rollout-Credential-Id", cred);
    if (!config_.traceparent.empty()) {
        req.headers.emplace_back("traceparent", config_.traceparent);
        if (!config_.tracestate.empty()) req.headers.emplace_back("tracestate", config_.tracestate);
    }
    if (!body.is_null()) req.body = json::serialize(body);
    if (config_.gate) {   // the team's Rollout rate, before a host slot is taken: a wait here holds no slot
        std::string team = config_.partition;
        auto admitted = co_await config_.gate->admit(std::move(team));
        if (!admitted) co_return std::move(admitted).error();
    }
    auto res = co_await pool_->send(std::move(req));
    if (!res) co_return std::move(res).error();
    const HttpResponse& r = res.value();
    if (r.status < 200 || r.status > 299) {
        Error failure = error_from_response(r);
        // Rollout's limit is per tenant: every request of the team holds off, on every instance.
        if (r.status == 429 && config_.gate) config_.gate->rate_limited(config_.partition, failure.retry_after);
        Result<HttpResponse> refused(std::move(failure));
        co_return refused;
    }
    co_return std::move(res);
}

namespace {

// The array of a list reply: _metadata.collection names it; else the first array member; or a bare array.
const json::array* items_of(const json::value& v) {
    if (v.is_array()) return &v.as_array();
    if (!v.is_object()) return nullptr;
    const auto& o = v.as_object();
    if (const auto* md = o.if_contains("_metadata"); md && md->is_object())
        if (const auto* c = md->as_object().if_contains("collection"); c && c->is_string())
            if (const auto* a = o.if_contains(c->as_string()); a && a->is_array()) return &a->as_array();
    for (const auto& [k, val] : o)
        if (val.is_array()) return &val.as_array();
    return nullptr;
}

std::optional<std::string> next_cursor(const json::value& v) {
    if (!v.is_object()) return std::nullopt;
    const auto* md = v.as_object().if_contains("_metadata");
    if (!md || !md->is_object()) return std::nullopt;
    const auto* n = md->as_object().if_contains("next");
    if (!n || !n->is_string() || n->as_string().empty()) return std::nullopt;
    return std::string(n->as_string());
}

Error no_items_array(const std::string& path) {
    return Error{ErrorKind::permanent, 200, "Rollout list reply for " + path + " has no items array"};
}

Result<Record> to_record(Result<json::value> r) {
    if (!r) return std::move(r).error();
    auto v = std::move(r).value();
    Record rec;
    if (v.is_object()) {
        rec.data = std::move(v.as_object());
        if (const auto* id = rec.data.if_contains("id")) rec.id = id_of(*id);
    }
    return rec;
}

}  // namespace

asio::awaitable<Result<void>> RolloutClient::for_each_page(std::string cred, std::string path, bool search,
                                                           PageVisitor visit, std::string holding) {
    std::string page_path = path;
    const std::size_t max_pages = search ? config_.max_search_pages : config_.max_pages;
    for (std::size_t page = 0; page < max_pages; ++page) {
        auto r = co_await request_text(Host::crm, verb::get, page_path, nullptr, cred);
        if (!r) {
            // Named first: GCC 12 destroys loop-scoped locals before a converting co_return reads them.
            Result<void> failed(std::move(r).error());
            co_return failed;
        }
        const std::string& text = r.value().body;
        // A page without the string the visitor looks for is only outlined: none of its items would match, and
        // a search through a large CRM is mostly such pages. A page holding it, or one the outline refuses (the
        // parse below names the error), is parsed.
        ListOutline outline;
        OutlineRead outlined = OutlineRead::ambiguous;
        if (!holding.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos)
            outlined = read_list_outline(text, holding, outline);
        if (outlined == OutlineRead::outlined) pages_outlined_.fetch_add(1, std::memory_order_relaxed);
        std::optional<std::string> next;
        if (outlined == OutlineRead::outlined) {
            if (!outline.has_items) {
                Result<void> shapeless(no_items_array(path));
                co_return shapeless;
            }
            next = std::move(outline.next);
        } else {
            auto parsed = parse_reply(r.value(), verb::get);
            if (!parsed) {
                Result<void> failed(std::move(parsed).error());
                co_return failed;
            }
            auto* items = const_cast<json::array*>(items_of(parsed.value()));
            if (!items) {
                Result<void> shapeless(no_items_array(path));
                co_return shapeless;
            }
            if (visit(*items, text.size())) co_return Result<void>{};
            next = next_cursor(parsed.value());
        }
        if (!next) co_return Result<void>{};
        page_path = path + (path.find('?') == std::string::npos ? "?" : "&") + "next=" + url_encode(*next);
    }
    if (search) {
        const std::string what = path.substr(0, path.find('?'));
        Error cut{ErrorKind::permanent, 0,
                  "looking up " + what + " in the CRM stopped after " + std::to_string(max_pages * 100) +
                      " records, so an existing record cannot be ruled out; nothing was created (give the buyer an "
                      "email address, which the CRM can search directly)"};
        co_return cut;
    }
    co_return Result<void>{};
}

asio::awaitable<Result<void>> RolloutClient::for_each_item(std::string cred, std::string path, bool search,
                                                           ItemVisitor visit, std::string holding) {
    PageVisitor each = [&visit](json::array& items, std::size_t) {
        for (auto& it : items)
            if (it.is_object() && visit(it.as_object())) return true;
        return false;
    };
    co_return co_await for_each_page(std::move(cred), std::move(path), search, each, std::move(holding));
}

asio::awaitable<Result<std::vector<json::object>>> RolloutClient::list_all(std::string cred, std::string path,
                                                                            bool search) {
    std::vector<json::object> out;
    std::size_t kept = 0;
    bool too_big = false;
    auto collect = [&](json::array& items, std::size_t bytes) {
        kept += bytes;
        if (kept > config_.max_list_bytes) {
            too_big = true;
            return true;
        }
        for (auto& it : items)
            if (it.is_object()) out.push_back(std::move(it.as_object()));
        return false;
    };
    auto done = co_await for_each_page(std::move(cred), path, search, collect);
    if (!done) co_return std::move(done).error();
    if (too_big) {
        out.clear();
        Error big{ErrorKind::permanent, 0,
                  "the CRM list " + path.substr(0, path.find('?')) + " is larger than max_list_bytes (" +
                      std::to_string(config_.max_list_bytes) + " bytes of replies); nothing was kept"};
        co_return big;
    }
    co_return out;
}

asio::awaitable<Result<std::vector<Connector>>> RolloutClient::list_connectors() {
    auto r = co_await request(Host::platform, verb::get, "/connectors");
    if (!r) co_return std::move(r).error();
    std::vector<Connector> out;
    auto add = [&](std::string key, const json::object& o) {
        Connector c;
        c.key = std::move(key);
        if (const auto* n = o.if_contains("name"); n && n->is_string()) c.name = std::string(n->as_string());
        if (c.name.empty()) c.name = c.key;
        if (const auto* e = o.if_contains("entities"); e && e->is_object())
            if (const auto* crm = e->as_object().if_contains("crm"); crm && crm->is_object()) {
                c.crm = true;
                c.crm_entities = crm->as_object();
            }
        if (const auto* plans = o.if_contains("authByPlan"); plans && plans->is_object())
            for (const auto& [plan, p] : plans->as_object())
                if (p.is_object())
                    if (const auto* t = p.as_object().if_contains("type"); t && t->is_string()) {
                        c.auth_type = std::string(t->as_string());
                        break;
                    }
        out.push_back(std::move(c));
    };
    const json::value& v = r.value();
    if (v.is_object() && !v.as_object().contains("_metadata")) {
        for (const auto& [k, val] : v.as_object())
            if (val.is_object()) add(std::string(k), val.as_object());
    } else if (const auto* items = items_of(v)) {
        for (const auto& it : *items)
            if (it.is_object())
                if (const auto* k = it.as_object().if_contains("key")) add(id_of(*k), it.as_object());
    }
    std::sort(out.begin(), out.end(), [](const Connector& a, const Connector& b) { return a.key < b.key; });
    co_return out;
}

asio::awaitable<Result<std::vector<Credential>>> RolloutClient::list_credentials(std::optional<std::string> app_key) {
    std::string path = "/credentials";
    if (app_key) path += "?appKey=" + url_encode(*app_key);
    auto r = co_await request(Host::platform, verb::get, path);
    if (!r) co_return std::move(r).error();
    std::vector<Credential> out;
    if (const auto* items = items_of(r.value()))
        for (const auto& it : *items) {
            if (!it.is_object()) continue;
            const auto& o = it.as_object();
            Credential c;
            auto str = [&](const char* k) {
                const auto* f = o.if_contains(k);
                return f ? id_of(*f) : std::string{};
            };
            c.id = str("id");
            c.app_key = str("appKey");
            c.label = str("label");
            c.created_at = str("createdAt");
            if (!c.id.empty()) out.push_back(std::move(c));
        }
    co_return out;
}

asio::awaitable<Result<void>> RolloutClient::probe(std::string cred) {
    auto r = co_await request(Host::crm, verb::get, "/people?limit=1", nullptr, cred);
    if (!r) co_return std::move(r).error();
    co_return Result<void>{};
}

asio::awaitable<Result<Record>> RolloutClient::write(std::string cred, verb method, std::string path,
                                                     json::object body, Host host) {
    co_return to_record(co_await request(host, method, std::move(path), json::value(std::move(body)), std::move(cred)));
}

asio::awaitable<Result<Record>> RolloutClient::create_person(std::string cred, json::object p) {
    co_return co_await write(std::move(cred), verb::post, "/people", std::move(p));
}
asio::awaitable<Result<Record>> RolloutClient::update_person(std::string cred, std::string id, json::object p) {
    co_return co_await write(std::move(cred), verb::put, "/people/" + url_encode(id) + "?mergeTags=true", std::move(p));
}
asio::awaitable<Result<Record>> RolloutClient::apply_person_tags(std::string cred, std::string id,
                                                                 std::vector<std::string> tags) {
    json::array arr;
    for (auto& t : tags) arr.emplace_back(t);
    json::object body;
    body["tags"] = std::move(arr);
    co_return co_await write(std::move(cred), verb::post, "/people/" + url_encode(id) + "/tags/apply", std::move(body));
}
asio::awaitable<Result<Record>> RolloutClient::create_note(std::string cred, json::object n) {
    co_return co_await write(std::move(cred), verb::post, "/notes", std::move(n));
}
asio::awaitable<Result<Record>> RolloutClient::update_note(std::string cred, std::string id, json::object n) {
    co_return co_await write(std::move(cred), verb::put, "/notes/" + url_encode(id), std::move(n));
}
asio::awaitable<Result<Record>> RolloutClient::create_appointment(std::string cred, json::object a) {
    co_return co_await write(std::move(cred), verb::post, "/appointments", std::move(a));
}
asio::awaitable<Result<Record>> RolloutClient::update_appointment(std::string cred, std::string id, json::object a) {
    co_return co_await write(std::move(cred), verb::put, "/appointments/" + url_encode(id), std::move(a));
}
asio::awaitable<Result<std::vector<json::object>>> RolloutClient::list_appointment_types(std::string cred) {
    co_return co_await list_all(std::move(cred), "/appointment-types?limit=100");
}
asio::awaitable<Result<Record>> RolloutClient::create_appointment_type(std::string cred, json::object t) {
    co_return co_await write(std::move(cred), verb::post, "/appointment-types", std::move(t));
}
asio::awaitable<Result<Record>> RolloutClient::create_task(std::string cred, json::object t) {
    co_return co_await write(std::move(cred), verb::post, "/tasks", std::move(t));
}
asio::awaitable<Result<Record>> RolloutClient::update_task(std::string cred, std::string id, json::object t) {
    co_return co_await write(std::move(cred), verb::put, "/tasks/" + url_encode(id), std::move(t));
}
asio::awaitable<Result<std::vector<json::object>>> RolloutClient::list_users(std::string cred) {
    co_return co_await list_all(std::move(cred), "/users?limit=100");
}
asio::awaitable<Result<std::vector<json::object>>> RolloutClient::list_for_person(std::string cred,
                                                                                  std::string collection,
                                                                                  std::string person_id) {
    std::vector<json::object> mine;  // only the matches are kept, one page at a time
    auto keep = [&](json::object& it) {
        if (const auto* p = it.if_contains("personId"); p && id_of(*p) == person_id) mine.push_back(std::move(it));
        return false;  // every match is wanted
    };
    auto done = co_await for_each_item(std::move(cred), "/" + collection + "?personId=" + url_encode(person_id) +
                                                            "&limit=100",
                                       true, keep);
    if (!done) co_return std::move(done).error();
    co_return mine;
}
asio::awaitable<Result<Record>> RolloutClient::create_automation(json::object automation) {
    co_return co_await write({}, verb::post, "/automations", std::move(automation), Host::automation);
}

}  // namespace rollout_mcp::rollout
