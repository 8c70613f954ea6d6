// Fuzz target: tools/call arguments. The input is parsed as the server parses a body (jsonrpc::parse with
// the default depth limit); an object is validated against the input schema of every registered tool
// (the registry enumerated through its own tools/list pages, so tools added later are covered too).
// Properties: validate_arguments never crashes or throws; it answers nullopt or a non-empty
// "<field path>: <rule>" text; the answer does not depend on how often it was asked.
#include "fuzz_support.hpp"
#include "json_rpc.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rollout_mcp;
namespace json = boost::json;

const std::vector<const ToolDefinition*>& tools() {
    static const std::vector<const ToolDefinition*> all = [] {
        std::vector<const ToolDefinition*> out;
        const auto& registry = fuzz::fixture_registry();
        const auto page = registry.list_page(mcp::kLatestRevision, "", registry.size() + 1);
        const json::value listed = json::parse(*page);
        for (const auto& t : listed.at("tools").as_array())
            out.push_back(registry.find(t.at("name").as_string()));
        if (out.size() != registry.size()) fuzz::fail("tools/list does not list every tool");
        return out;
    }();
    return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::init_once();
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string problem;
    auto doc = jsonrpc::parse(text, {Config{}.mcp.max_json_depth}, problem);
    if (!doc || !doc->is_object()) return 0;
    const auto& args = doc->get_object();
    const auto& registry = fuzz::fixture_registry();
    for (const ToolDefinition* tool : tools()) {
        std::optional<std::string> first;
        try {
            first = registry.validate_arguments(*tool, args);
        } catch (const std::exception& e) {
            fuzz::fail("validate_arguments threw", tool->name + ": " + e.what());
        }
        if (first && first->empty()) fuzz::fail("validate_arguments gave an empty problem", tool->name);
        if (registry.validate_arguments(*tool, args) != first) fuzz::fail("validate_arguments is not deterministic", tool->name);
    }
    return 0;
}
