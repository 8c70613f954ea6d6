// Lookups over the limits table and the JSON Schemas built from it.
#include "limits.hpp"

#include <boost/json/array.hpp>

#include <stdexcept>

namespace rollout_mcp::rollout::limits {
namespace json = boost::json;

std::span<const FieldLimit> fields() { return kFields; }

const FieldLimit* find(std::string_view path) {
    for (const FieldLimit& f : kFields)
        if (f.path == path) return &f;
    return nullptr;
}

bool is_field_of(std::string_view object_path, std::string_view key) {
    for (const FieldLimit& f : kFields)
        if (f.path.size() == object_path.size() + 1 + key.size() && f.path.starts_with(object_path) &&
            f.path[object_path.size()] == '.' && f.path.ends_with(key))
            return true;
    return false;
}

std::size_t text_length(std::string_view utf8) {
    std::size_t n = 0;
    for (unsigned char c : utf8) n += (c & 0xC0) != 0x80 ? 1 : 0;   // count lead bytes only
    return n;
}

std::optional<std::string> check_text(const FieldLimit& limit, std::string_view value) {
    const auto n = static_cast<std::int64_t>(text_length(value));
    if (n < limit.min || value.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return limit.min <= 1 ? std::string("must not be empty")
                              : "must be at least " + std::to_string(limit.min) + " characters";
    if (n > limit.max) return "must be at most " + std::to_string(limit.max) + " characters";
    return std::nullopt;
}

namespace {

// The direct children of `parent` ("tourData" -> "tourData.tourId", not "tourData.buyer.name").
template <class F>
void for_children(std::string_view parent, F&& f) {
    for (const FieldLimit& c : kFields) {
        if (c.path.size() <= parent.size() + 1 || !c.path.starts_with(parent) || c.path[parent.size()] != '.')
            continue;
        const auto key = c.path.substr(parent.size() + 1);
        if (key.find('.') == std::string_view::npos && key.find('[') == std::string_view::npos) f(key, c);
    }
}

}  // namespace

json::object schema(std::string_view path) {
    const FieldLimit* f = find(path);
    if (!f) throw std::logic_error("rollout::limits::schema: no such path " + std::string(path));
    json::object s;
    switch (f->kind) {
    case Kind::string:
    case Kind::id:
        s = {{"type", "string"}, {"minLength", f->min}, {"maxLength", f->max}};
        break;
    case Kind::integer: s = {{"type", "integer"}, {"minimum", f->min}, {"maximum", f->max}}; break;
    case Kind::number: s = {{"type", "number"}, {"minimum", f->min}, {"maximum", f->max}}; break;
    case Kind::array:
        s = {{"type", "array"}, {"minItems", f->min}, {"maxItems", f->max}, {"items", schema(std::string(path) + "[]")}};
        break;
    case Kind::object: {
        json::object properties;
        json::array required;
        for_children(path, [&](std::string_view key, const FieldLimit& c) {
            properties[key] = schema(c.path);
            if (c.required) required.emplace_back(key);
        });
        s = {{"type", "object"}, {"properties", std::move(properties)}};
        if (!required.empty()) s["required"] = std::move(required);
        break;
    }
    }
    if (!f->description.empty()) s["description"] = f->description;
    return s;
}

}  // namespace rollout_mcp::rollout::limits
