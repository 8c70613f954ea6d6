// Fault injection for the fake Rollout: FaultRule <-> JSON (POST /_fake/faults) and choosing which rules fire
// for a request (latency rules add up; the first terminal rule with count left answers instead of the handler).
#include "fake_store.hpp"

#include <boost/json/serialize.hpp>

#include <cctype>
#include <stdexcept>

namespace rollout_mcp::fake {
namespace json = boost::json;

namespace {
std::optional<std::string> opt_string(const json::object& o, std::string_view key, std::string_view prefix = "match.") {
    auto v = o.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) throw std::invalid_argument(std::string(prefix) + std::string(key) + " must be a string");
    return std::string(v->get_string());
}

std::int64_t int_field(const json::object& o, std::string_view key, std::int64_t fallback) {
    auto v = o.if_contains(key);
    if (!v || v->is_null()) return fallback;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    if (v->is_double() && v->get_double() == static_cast<double>(static_cast<std::int64_t>(v->get_double())))
        return static_cast<std::int64_t>(v->get_double());
    throw std::invalid_argument(std::string(key) + " must be an integer");
}

constexpr std::pair<FaultRule::Action, std::string_view> kActions[] = {
    {FaultRule::Action::latency, "latency"},
    {FaultRule::Action::status, "status"},
    {FaultRule::Action::rate_limit, "rate_limit"},
    {FaultRule::Action::timeout_after_write, "timeout_after_write"},
    {FaultRule::Action::not_ready, "not_ready"},
    {FaultRule::Action::auth_expired, "auth_expired"},
    {FaultRule::Action::reset_after_write, "reset_after_write"},
    {FaultRule::Action::half_close_after_write, "half_close_after_write"},
    {FaultRule::Action::truncated_body, "truncated_body"},
    {FaultRule::Action::reset_before_handle, "reset_before_handle"},
    {FaultRule::Action::close_after_reply, "close_after_reply"},
};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
}
}  // namespace

FaultRule FaultRule::from_json(const json::object& o) {
    FaultRule r;
    if (auto m = o.if_contains("match"); m && !m->is_null()) {
        if (!m->is_object()) throw std::invalid_argument("match must be an object");
        r.method = opt_string(m->get_object(), "method");
        r.path_prefix = opt_string(m->get_object(), "pathPrefix");
        r.credential_id = opt_string(m->get_object(), "credentialId");
        if (auto reused = m->get_object().if_contains("reusedConnection"); reused && !reused->is_null()) {
            if (!reused->is_bool()) throw std::invalid_argument("match.reusedConnection must be true or false");
            r.reused_connection = reused->get_bool();
        }
    }
    auto a = o.if_contains("action");
    if (!a || !a->is_string())
        throw std::invalid_argument("action is required: one of latency, status, rate_limit, timeout_after_write, "
                                    "not_ready, auth_expired, reset_after_write, half_close_after_write, "
                                    "truncated_body, reset_before_handle, close_after_reply");
    bool known = false;
    for (const auto& [action, name] : kActions)
        if (a->get_string() == name) {
            r.action = action;
            known = true;
        }
    if (!known) throw std::invalid_argument("unknown action '" + std::string(a->get_string()) + "'");
    r.count = static_cast<int>(int_field(o, "count", r.action == Action::latency ? -1 : 1));
    if (r.count == 0 || r.count < -1) throw std::invalid_argument("count must be positive or -1 (unlimited)");
    switch (r.action) {
    case Action::latency:
        r.latency = std::chrono::milliseconds(int_field(o, "ms", -1));
        if (r.latency.count() < 0) throw std::invalid_argument("latency needs ms >= 0");
        break;
    case Action::status: {
        const auto code = int_field(o, "status", -1);
        if (code < 100 || code > 599) throw std::invalid_argument("status needs status: 100..599");
        r.status = static_cast<unsigned>(code);
        auto b = o.if_contains("body");
        if (!b || b->is_null())
            r.body = json::serialize(json::object{{"errorMessage", "Injected fault: HTTP " + std::to_string(code)}});
        else if (b->is_string()) r.body = std::string(b->get_string());   // verbatim (may be invalid JSON)
        else r.body = json::serialize(*b);
        if (auto ct = opt_string(o, "contentType", "")) r.content_type = *ct;
        break;
    }
    case Action::rate_limit:
        if (o.contains("retryAfterSeconds")) {
            r.retry_after_seconds = static_cast<int>(int_field(o, "retryAfterSeconds", 0));
            if (*r.retry_after_seconds < 0) throw std::invalid_argument("retryAfterSeconds must be >= 0");
        }
        break;
    default:
        break;
    }
    return r;
}

json::object FaultRule::to_json() const {
    json::object match;
    if (method) match["method"] = *method;
    if (path_prefix) match["pathPrefix"] = *path_prefix;
    if (credential_id) match["credentialId"] = *credential_id;
    if (reused_connection) match["reusedConnection"] = *reused_connection;
    json::object o{{"match", std::move(match)}, {"count", count}};
    for (const auto& [a, name] : kActions)
        if (a == action) o["action"] = name;
    if (action == Action::latency) o["ms"] = latency.count();
    if (action == Action::status) {
        o["status"] = status;
        o["body"] = body;
        o["contentType"] = content_type;
    }
    if (action == Action::rate_limit && retry_after_seconds) o["retryAfterSeconds"] = *retry_after_seconds;
    return o;
}

FaultDecision Store::decide_faults(const Request& req) {
    FaultDecision d;
    std::lock_guard lock(mu_);
    const auto cred = req.header("x-rollout-credential-id");
    for (auto it = faults_.begin(); it != faults_.end();) {
        auto& rule = it->second;
        const bool matches = (!rule.method || iequals(*rule.method, req.method)) &&
                             (!rule.path_prefix || req.path.rfind(*rule.path_prefix, 0) == 0) &&
                             (!rule.credential_id || *rule.credential_id == cred) &&
                             (!rule.reused_connection || *rule.reused_connection == req.reused_connection);
        bool fire = false;
        if (matches && rule.action == FaultRule::Action::latency) {
            d.latency += rule.latency;
            fire = true;
        } else if (matches && !d.terminal) {
            d.terminal = rule;
            fire = true;
        }
        if (fire && rule.count > 0 && --rule.count == 0) it = faults_.erase(it);
        else ++it;
    }
    return d;
}

std::uint64_t Store::add_fault(const FaultRule& rule) {
    std::lock_guard lock(mu_);
    faults_.emplace_back(++fault_counter_, rule);
    return fault_counter_;
}

void Store::clear_faults() {
    std::lock_guard lock(mu_);
    faults_.clear();
}

}  // namespace rollout_mcp::fake
