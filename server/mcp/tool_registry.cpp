// Tool registration, JSON Schema validation (valijson, draft 7 rules with $defs/$ref pointers) and
// pre-serialized tools/list pages.
// valijson reports schema problems by throwing only with this set; otherwise it prints and abort()s the
// process (a bad schema at registration, or a $ref it cannot resolve). Only this file includes valijson.
#if !defined(VALIJSON_USE_EXCEPTIONS) || !VALIJSON_USE_EXCEPTIONS
#error "build tool_registry.cpp with VALIJSON_USE_EXCEPTIONS=1 (server/mcp/CMakeLists.txt sets it)"
#endif
#include "server/mcp/tool_registry.hpp"

#include <boost/json/serialize.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <stdexcept>

namespace rollout_mcp {
namespace json = boost::json;

ToolResult text_result(std::string_view text, bool is_error) {
    json::object block{{"type", "text"}, {"text", text}};
    ToolResult result{{"content", json::array{std::move(block)}}};
    if (is_error) result["isError"] = true;
    return result;
}

ToolResult structured_result(const json::object& structured, bool is_error) {
    ToolResult result = text_result(json::serialize(structured), is_error);
    result["structuredContent"] = structured;
    return result;
}

namespace {

bool valid_tool_name(std::string_view name) {
    if (name.empty() || name.size() > 128) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

// "<root>" "[tourData]" "[properties]" "[0]" -> "tourData.properties[0]"
std::string field_path(const std::vector<std::string>& context) {
    std::string path;
    for (const auto& part : context) {
        if (part == "<root>" || part.size() < 2) continue;
        std::string inner = part.substr(1, part.size() - 2);
        const bool index = !inner.empty() && std::all_of(inner.begin(), inner.end(), ::isdigit);
        if (index) path += "[" + inner + "]";
        else path += (path.empty() ? "" : ".") + inner;
    }
    return path.empty() ? "arguments" : path;
}

}  // namespace

struct ToolRegistry::Impl {
    struct Entry {
        ToolDefinition tool;
        std::unique_ptr<valijson::Schema> schema;
        std::string listed_full;     // with title/outputSchema (2025-06-18+)
        std::string listed_legacy;   // 2025-03-26 shape
    };
    std::vector<std::unique_ptr<Entry>> entries;
    std::map<std::string, Entry*, std::less<>> by_name;
};

ToolRegistry::ToolRegistry() : impl_(std::make_unique<Impl>()) {}
ToolRegistry::~ToolRegistry() = default;

void ToolRegistry::add(ToolDefinition tool) {
    if (!valid_tool_name(tool.name)) throw std::invalid_argument("invalid tool name \"" + tool.name + "\"");
    if (impl_->by_name.count(tool.name)) throw std::invalid_argument("duplicate tool \"" + tool.name + "\"");
    if (tool.description.empty()) throw std::invalid_argument("tool \"" + tool.name + "\" needs a description");
    const auto* type = tool.input_schema.if_contains("type");
    if (!type || !type->is_string() || type->get_string() != "object")
        throw std::invalid_argument("tool \"" + tool.name + "\": inputSchema must have \"type\": \"object\"");
    if (!tool.handler) throw std::invalid_argument("tool \"" + tool.name + "\" has no handler");

    try {
        tool.header_params = mcp::header_params_of(tool.input_schema);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("tool \"" + tool.name + "\": " + e.what());
    }
    auto entry = std::make_unique<Impl::Entry>();
    entry->schema = std::make_unique<valijson::Schema>();
    const json::value schema_doc = tool.input_schema;
    try {
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        parser.populateSchema(valijson::adapters::BoostJsonAdapter(schema_doc), *entry->schema);
    } catch (const std::exception& e) {
        throw std::invalid_argument("tool \"" + tool.name + "\": input schema does not compile: " + e.what());
    }

    json::object listed{{"name", tool.name}, {"description", tool.description}, {"inputSchema", tool.input_schema}};
    if (!tool.annotations.empty()) listed["annotations"] = tool.annotations;
    entry->listed_legacy = json::serialize(listed);
    if (!tool.title.empty()) listed["title"] = tool.title;
    if (tool.output_schema) listed["outputSchema"] = *tool.output_schema;
    entry->listed_full = json::serialize(listed);

    entry->tool = std::move(tool);
    impl_->by_name.emplace(entry->tool.name, entry.get());
    impl_->entries.push_back(std::move(entry));
}

const ToolDefinition* ToolRegistry::find(std::string_view name) const {
    auto it = impl_->by_name.find(name);
    return it == impl_->by_name.end() ? nullptr : &it->second->tool;
}

std::size_t ToolRegistry::size() const { return impl_->entries.size(); }

std::optional<std::string> ToolRegistry::validate_arguments(const ToolDefinition& tool,
                                                            const json::object& arguments) const {
    auto it = impl_->by_name.find(tool.name);
    if (it == impl_->by_name.end()) return "unknown tool";
    const json::value doc = arguments;
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::ValidationResults results;
    if (validator.validate(*it->second->schema, valijson::adapters::BoostJsonAdapter(doc), &results)) return std::nullopt;
    // Report the most specific failure: the one deepest in the document.
    valijson::ValidationResults::Error error, best;
    bool have = false;
    while (results.popError(error)) {
        if (!have || error.context.size() > best.context.size()) {
            best = error;
            have = true;
        }
    }
    if (!have) return std::string("arguments: do not match the input schema");
    return field_path(best.context) + ": " + best.description;
}

std::optional<std::string> ToolRegistry::list_page(mcp::Revision revision, std::string_view cursor,
                                                   std::size_t page_size) const {
    std::size_t offset = 0;
    if (!cursor.empty()) {
        // Cursors are "t<offset>": opaque to clients, cheap to check here.
        if (cursor.size() < 2 || cursor[0] != 't') return std::nullopt;
        auto [end, ec] = std::from_chars(cursor.data() + 1, cursor.data() + cursor.size(), offset);
        if (ec != std::errc{} || end != cursor.data() + cursor.size() || offset == 0 ||
            offset >= impl_->entries.size())
            return std::nullopt;
    }
    const bool full = mcp::policy(revision).structured_output;
    const std::size_t last = std::min(impl_->entries.size(), offset + std::max<std::size_t>(page_size, 1));
    std::string out = R"({"tools":[)";
    for (std::size_t i = offset; i < last; ++i) {
        if (i != offset) out += ',';
        out += full ? impl_->entries[i]->listed_full : impl_->entries[i]->listed_legacy;
    }
    out += ']';
    if (last < impl_->entries.size()) out += R"(,"nextCursor":"t)" + std::to_string(last) + '"';
    if (mcp::policy(revision).result_type) out += R"(,"resultType":"complete","ttlMs":60000,"cacheScope":"public")";
    out += '}';
    return out;
}

}  // namespace rollout_mcp
