// The fake Rollout's state: helpers for replies, credentials, the per-credential record store, the request log,
// and the JSON views of all of it (GET /_fake/state, FakeRollout::state()).
#include "fake_store.hpp"

#include "fake_jwt.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <random>
#include <stdexcept>

namespace rollout_mcp::fake {
namespace json = boost::json;

std::string Request::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string{} : it->second;
}

Reply json_reply(unsigned status, const json::value& body) {
    Reply r;
    r.status = status;
    r.body = json::serialize(body);
    r.headers.emplace_back("Content-Type", "application/json");
    return r;
}

Reply error_reply(unsigned status, std::string_view message) {
    return json_reply(status, json::object{{"errorMessage", message}});
}

std::string now_iso() {
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

std::string url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') out += ' ';
        else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else out += s[i];
    }
    return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
    std::map<std::string, std::string> out;
    while (!query.empty()) {
        auto amp = query.find('&');
        auto part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) continue;
        auto eq = part.find('=');
        if (eq == std::string_view::npos) out[url_decode(part)] = "";
        else out[url_decode(part.substr(0, eq))] = url_decode(part.substr(eq + 1));
    }
    return out;
}

json::object Credential::to_json() const {
    return {{"id", id}, {"createdAt", created_at}, {"appKey", app_key}, {"label", label}};
}

json::object* Collection::find(const std::string& id) {
    auto it = index.find(id);
    return it == index.end() ? nullptr : &items.at(it->second);
}

json::object RecordedRequest::to_json() const {
    json::object params_json, headers_json;
    for (const auto& [k, v] : params) params_json[k] = v;
    for (const auto& [k, v] : headers) headers_json[k] = v;
    return {{"seq", seq},       {"method", method},         {"path", path},          {"query", query},
            {"params", params_json}, {"headers", headers_json}, {"credentialId", credential_id},
            {"jwtClaims", jwt_claims}, {"body", body},        {"json", json},          {"status", status},
            {"tls", tls},          {"target", target},         {"connection", connection}};
}

std::string Store::next_id(std::string_view prefix) {
    return std::string(prefix) + "_" + std::to_string(++counter_);
}

Credential& Store::create_credential(const std::string& app_key, const std::string& sub, const std::string& label,
                                     std::chrono::milliseconds not_ready_for, const std::string& id) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char uuid[40];
    const auto a = rng(), b = rng();
    std::snprintf(uuid, sizeof uuid, "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>(a >> 16) & 0xFFFF, static_cast<unsigned>(a) & 0xFFF,
                  static_cast<unsigned>(b >> 48) & 0xFFF, static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
    Credential c{id.empty() ? std::string(uuid) : id, app_key, sub, label.empty() ? app_key + " account" : label, now_iso(),
                 std::chrono::steady_clock::now() + not_ready_for};
    auto& kinds = crm_[c.id];
    credentials_.push_back(std::move(c));
    Credential& cred = credentials_.back();
    kinds["people"];
    // Every CRM has an appointment type and a user to assign; adapters look them up before writing.
    insert(cred, "appointment-types", json::object{{"name", "Showing"}, {"orderWeight", 1}});
    insert(cred, "users", json::object{{"name", "Fake Agent"}, {"firstName", "Fake"}, {"lastName", "Agent"},
                                       {"email", "agent@example.com"}, {"role", "Agent"}, {"status", "Active"}});
    return cred;
}

json::object& Store::insert(Credential& cred, const std::string& kind, json::object record) {
    const std::string prefix = kind == "people" ? "person" : kind == "appointment-types" ? "apptype"
                               : kind == "appointment-outcomes"                         ? "outcome"
                                                                                        : kind.substr(0, kind.size() - 1);
    const std::string id = next_id(prefix);
    const auto ts = now_iso();
    record["id"] = id;
    record["created"] = ts;
    record["updated"] = ts;
    record["rolloutUpdated"] = ts;
    if (!record.contains("originalIds")) record["originalIds"] = json::object{};
    if (!record.contains("original")) record["original"] = json::object{};
    auto& coll = crm_[cred.id][kind];
    coll.index[id] = counter_;
    return coll.items.emplace(counter_, std::move(record)).first->second;
}

Credential* Store::find_credential(const std::string& id) {
    for (auto& c : credentials_)
        if (c.id == id) return &c;
    return nullptr;
}

RecordedRequest Store::record(const Request& req) {
    RecordedRequest r;
    r.method = req.method;
    r.path = req.path;
    r.query = req.query;
    r.target = req.target;
    r.connection = req.connection;
    r.params = req.params;
    r.headers = req.headers;
    r.credential_id = req.header("x-rollout-credential-id");
    r.jwt_claims = peek_claims(req.header("authorization"));
    r.body = req.body;
    if (!req.body.empty()) {
        boost::system::error_code ec;
        auto v = json::parse(req.body, ec);
        if (!ec) r.json = std::move(v);
    }
    r.tls = req.tls;
    r.received_at = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    r.seq = ++log_seq_;
    log_.push_back(r);
    if (log_.size() > 100000) log_.pop_front();
    return r;
}

void Store::set_status(std::uint64_t seq, unsigned status) {
    std::lock_guard lock(mu_);
    for (auto it = log_.rbegin(); it != log_.rend(); ++it)
        if (it->seq == seq) {
            it->status = status;
            return;
        }
}

std::vector<RecordedRequest> Store::requests() const {
    std::lock_guard lock(mu_);
    return {log_.begin(), log_.end()};
}

void Store::clear_requests() {
    std::lock_guard lock(mu_);
    log_.clear();
}

json::object Store::state_unlocked() const {
    json::array creds;
    json::object crm;
    for (const auto& c : credentials_) {
        auto cj = c.to_json();
        cj["sub"] = c.sub;
        cj["ready"] = c.ready();
        creds.push_back(cj);
        json::object entry{{"appKey", c.app_key}, {"sub", c.sub}, {"label", c.label}};
        json::object counts;
        const auto it = crm_.find(c.id);
        for (const auto& kind : crm_kinds()) {
            json::array items;
            if (it != crm_.end())
                if (auto k = it->second.find(kind); k != it->second.end())
                    for (const auto& [key, rec] : k->second.items) items.push_back(rec);
            counts[kind] = static_cast<std::int64_t>(items.size());
            entry[kind] = std::move(items);
        }
        entry["counts"] = std::move(counts);
        crm[c.id] = std::move(entry);
    }
    json::array faults;
    for (const auto& [id, rule] : faults_) {
        auto fj = rule.to_json();
        fj["id"] = id;
        faults.push_back(std::move(fj));
    }
    json::array automations(automations_.begin(), automations_.end());
    json::array pushes(push_events_.begin(), push_events_.end());
    return {{"credentials", std::move(creds)}, {"crm", std::move(crm)}, {"automations", std::move(automations)},
            {"pushEvents", std::move(pushes)}, {"faults", std::move(faults)}, {"requestCount", static_cast<std::int64_t>(log_.size())}};
}

json::object Store::state() const {
    std::lock_guard lock(mu_);
    return state_unlocked();
}

void Store::reset() {
    std::lock_guard lock(mu_);
    reset_unlocked();
}

void Store::reset_unlocked() {
    credentials_.clear();
    crm_.clear();
    automations_.clear();
    push_events_.clear();
    webhooks_.clear();
    webhook_secret_.reset();
    faults_.clear();
    log_.clear();
}

json::object Store::add_credential(const std::string& app_key, const std::string& sub, const std::string& label,
                                   std::chrono::milliseconds not_ready_for, const std::string& id) {
    std::lock_guard lock(mu_);
    if (!id.empty() && find_credential(id)) throw std::invalid_argument("credential " + id + " already exists");
    auto& c = create_credential(app_key, sub, label, not_ready_for, id);
    auto j = c.to_json();
    j["sub"] = c.sub;
    j["ready"] = c.ready();
    return j;
}

std::vector<json::object> Store::records(const std::string& credential_id, const std::string& kind) const {
    std::lock_guard lock(mu_);
    std::vector<json::object> out;
    auto it = crm_.find(credential_id);
    if (it == crm_.end()) return out;
    auto k = it->second.find(kind);
    if (k == it->second.end()) return out;
    for (const auto& [key, rec] : k->second.items) out.push_back(rec);
    return out;
}

json::object Store::put_record(const std::string& credential_id, const std::string& kind, json::object record) {
    std::lock_guard lock(mu_);
    Credential* cred = find_credential(credential_id);
    if (!cred) throw std::invalid_argument("no credential " + credential_id);
    return insert(*cred, kind, std::move(record));
}

bool Store::remove_record(const std::string& credential_id, const std::string& kind, const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = crm_.find(credential_id);
    if (it == crm_.end()) return false;
    auto k = it->second.find(kind);
    if (k == it->second.end()) return false;
    auto found = k->second.index.find(id);
    if (found == k->second.index.end()) return false;
    k->second.items.erase(found->second);
    k->second.index.erase(found);
    return true;
}

}  // namespace rollout_mcp::fake
