// The shape every Rollout-bound value a team supplies must have (tokens, client ids and secrets, project
// keys, credential ids). Each of them ends up in an HTTP header or a host name, so a stray CR/LF, NUL or
// space would split a header or change the host. One table feeds both the tools' JSON Schema `pattern`s and
// the C++ checks run when stored values are loaded, so the two can never disagree.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace rollout_mcp {

enum class RolloutField { auth_token, client_id, client_secret, project_env_key, credential_key, webhook_secret };

struct FieldRule {
    std::string_view name;       // the tool argument, e.g. "authToken"
    std::string_view pattern;    // ECMA-262, as JSON Schema `pattern` uses it
    std::size_t max_length;      // in bytes; the patterns only admit ASCII, so also in characters
    std::string_view shape;      // for error messages: what the value must look like
};

const FieldRule& rule_of(RolloutField field);

// nullopt when `value` fits the field's rule; otherwise a message naming the field and its shape.
std::optional<std::string> field_problem(RolloutField field, std::string_view value);

// Replaces type/minLength/maxLength/pattern of every property of `schema` (an input schema's object) that
// names a field above, so tool schemas come from the same table as the checks.
void apply_field_rules(boost::json::object& schema);

}  // namespace rollout_mcp
