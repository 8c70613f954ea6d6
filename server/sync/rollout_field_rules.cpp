// The field rules, written twice on purpose in one place: as ECMA-262 patterns for clients and the schema
// validator, and as character predicates for the checks on stored values (no regex engine on that path).
// rollout_field_rules_test runs every pattern and predicate over the same inputs.
#include "server/sync/rollout_field_rules.hpp"

namespace rollout_mcp {
namespace {

bool alnum(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool b64url(unsigned char c) { return alnum(c) || c == '-' || c == '_'; }
bool id_char(unsigned char c) { return alnum(c) || c == '.' || c == '_' || c == '~' || c == '-'; }
bool printable_no_space(unsigned char c) { return c >= 0x21 && c <= 0x7e; }
bool label_char(unsigned char c) { return alnum(c) || c == '_' || c == '-'; }
bool credential_char(unsigned char c) { return id_char(c) || c == ':'; }

template <typename Pred>
bool all_of(std::string_view s, Pred pred) {
    if (s.empty()) return false;
    for (char c : s)
        if (!pred(static_cast<unsigned char>(c))) return false;
    return true;
}

// Three non-empty base64url segments separated by dots (a compact JWS).
bool compact_jws(std::string_view s) {
    int segments = 0;
    while (true) {
        const auto dot = s.find('.');
        if (!all_of(s.substr(0, dot), b64url)) return false;
        ++segments;
        if (dot == std::string_view::npos) break;
        s.remove_prefix(dot + 1);
    }
    return segments == 3;
}

const FieldRule kRules[] = {
    {"authToken", R"(^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$)", 8192,
     "a compact JWT: three base64url segments separated by dots"},
    {"clientId", "^[A-Za-z0-9._~-]+$", 256, "letters, digits and . _ ~ -"},
    {"clientSecret", "^[!-~]+$", 1024, "printable ASCII without spaces"},
    {"projectEnvKey", "^[A-Za-z0-9_-]{1,63}$", 63, "1 to 63 letters, digits, _ or - (one DNS label)"},
    {"credentialKey", "^[A-Za-z0-9._:~-]+$", 256, "letters, digits and . _ : ~ -"},
    // The HMAC key of X-Rollout-Signature (rollout/webhook_signature.hpp); never sent anywhere.
    {"webhookSecret", "^[!-~]+$", 1024, "printable ASCII without spaces"},
};

bool fits(RolloutField field, std::string_view v) {
    switch (field) {
    case RolloutField::auth_token: return compact_jws(v);
    case RolloutField::client_id: return all_of(v, id_char);
    case RolloutField::client_secret: return all_of(v, printable_no_space);
    case RolloutField::project_env_key: return all_of(v, label_char);
    case RolloutField::credential_key: return all_of(v, credential_char);
    case RolloutField::webhook_secret: return all_of(v, printable_no_space);
    }
    return false;
}

}  // namespace

const FieldRule& rule_of(RolloutField field) { return kRules[static_cast<int>(field)]; }

std::optional<std::string> field_problem(RolloutField field, std::string_view value) {
    const auto& rule = rule_of(field);
    if (value.size() > rule.max_length)
        return std::string(rule.name) + ": longer than " + std::to_string(rule.max_length) + " characters";
    if (!fits(field, value)) return std::string(rule.name) + ": must be " + std::string(rule.shape);
    return std::nullopt;
}

void apply_field_rules(boost::json::object& schema) {
    auto* props = schema.if_contains("properties");
    if (!props || !props->is_object()) return;
    for (const auto& rule : kRules) {
        auto* p = props->as_object().if_contains(rule.name);
        if (!p || !p->is_object()) continue;
        auto& o = p->as_object();
        o["type"] = "string";
        o["minLength"] = 1;
        o["maxLength"] = static_cast<std::int64_t>(rule.max_length);   // the schema compiler wants a signed integer
        o["pattern"] = rule.pattern;
    }
}

}  // namespace rollout_mcp
