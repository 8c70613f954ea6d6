// Fuzz target: tools/call arguments. The input is parsed as the server parses a body (jsonrpc::parse with
// the default depth limit); an object is validated against the input schema of every tool the server can
// register: the product's Rollout and sync tools and the fixture tools (the registry enumerated through
// its own tools/list pages, so tools added later are covered too). No handler runs here.
// Properties: validate_arguments never crashes or throws; it answers nullopt or a non-empty
// "<field path>: <rule>" text; the answer does not depend on how often it was asked.
#include "fuzz_support.hpp"
#include "server/mcp/json_rpc.hpp"
#include "server/tools/rollout_tools.hpp"
#include "storage/storage_executor.hpp"
#include "server/sync/team_rollout.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rollout_mcp;
namespace json = boost::json;

// Every tool `serve` registers (with test fixtures on). The handlers' dependencies are never used: only
// schemas are compiled and validated against, so the store behind them is empty.
const ToolRegistry& all_tools_registry() {
    static const ToolRegistry* registry = [] {
        auto* storage = new StorageExecutor(nullptr);
        auto* team = new TeamRollout(*storage, rollout::HttpPool::create({}), {});
        auto* r = new ToolRegistry;
        register_rollout_tools(*r, *team, SyncToolsDeps{team, nullptr, std::chrono::milliseconds(0)});
        register_fixture_tools(*r, fuzz::sessionless_services());
        return r;
    }();
    return *registry;
}

const std::vector<const ToolDefinition*>& tools() {
    static const std::vector<const ToolDefinition*> all = [] {
        std::vector<const ToolDefinition*> out;
        const auto& registry = all_tools_registry();
        const auto page = registry.list_page(mcp::kLatestSessionRevision, "", registry.size() + 1);
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
    auto doc = jsonrpc::parse(text, parse_limits(Config{}.mcp));
    if (!doc || !doc->is_object()) return 0;
    const auto& args = doc->get_object();
    const auto& registry = all_tools_registry();
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
