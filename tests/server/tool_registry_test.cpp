// Tool registry: registration rules, argument validation with field paths, tools/list pages per revision.
#include "server/mcp/tool_registry.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp {
namespace {
namespace json = boost::json;
namespace asio = boost::asio;

ToolDefinition make_tool(std::string name, std::string schema = R"({"type":"object"})") {
    ToolDefinition t;
    t.name = std::move(name);
    t.description = "A test tool.";
    t.input_schema = json::parse(schema).as_object();
    t.handler = [](ToolContext&, const json::object&) -> asio::awaitable<ToolResult> { co_return text_result("ok"); };
    return t;
}

json::object parse_object(std::string_view text) { return json::parse(text).as_object(); }

TEST(ToolRegistry, AcceptsValidNames) {
    ToolRegistry r;
    r.add(make_tool("a"));
    r.add(make_tool("Sync_tour-data.v2"));
    r.add(make_tool(std::string(128, 'x')));
    EXPECT_EQ(r.size(), 3u);
    EXPECT_NE(r.find("Sync_tour-data.v2"), nullptr);
    EXPECT_EQ(r.find("sync_tour-data.v2"), nullptr);   // case-sensitive
}

TEST(ToolRegistry, RejectsBadNames) {
    ToolRegistry r;
    for (std::string bad : {std::string(), std::string(129, 'x'), std::string("has space"), std::string("a/b"),
                            std::string("tool:x"), std::string("naïve"), std::string("a\nb")})
        EXPECT_THROW(r.add(make_tool(bad)), std::invalid_argument) << bad;
    EXPECT_EQ(r.size(), 0u);
}

TEST(ToolRegistry, RejectsDuplicates) {
    ToolRegistry r;
    r.add(make_tool("dup"));
    EXPECT_THROW(r.add(make_tool("dup")), std::invalid_argument);
    EXPECT_EQ(r.size(), 1u);
}

TEST(ToolRegistry, RequiresDescriptionAndHandler) {
    ToolRegistry r;
    auto no_description = make_tool("t1");
    no_description.description.clear();
    EXPECT_THROW(r.add(std::move(no_description)), std::invalid_argument);
    auto no_handler = make_tool("t2");
    no_handler.handler = nullptr;
    EXPECT_THROW(r.add(std::move(no_handler)), std::invalid_argument);
}

TEST(ToolRegistry, InputSchemaMustBeTypeObject) {
    ToolRegistry r;
    for (const char* schema : {R"({})", R"({"type":"array"})", R"({"type":["object"]})", R"({"properties":{}})",
                               R"({"type":"string"})"})
        EXPECT_THROW(r.add(make_tool("t", schema)), std::invalid_argument) << schema;
}

TEST(ToolRegistry, SchemaThatDoesNotCompileIsRejected) {
    ToolRegistry r;
    EXPECT_THROW(r.add(make_tool("t", R"({"type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}})")),
                 std::invalid_argument);
}

constexpr const char* kTourSchema = R"({
  "type": "object",
  "properties": {
    "tourData": {
      "type": "object",
      "properties": {
        "properties": {
          "type": "array",
          "items": {"type": "object",
                    "properties": {"address": {"type": "string"}, "visitTime": {"type": "string"}},
                    "required": ["address", "visitTime"]}
        }
      },
      "required": ["properties"]
    }
  },
  "required": ["tourData"]
})";

TEST(ToolRegistryValidation, ValidArgumentsPass) {
    ToolRegistry r;
    r.add(make_tool("sync_tour_data", kTourSchema));
    auto ok = parse_object(R"({"tourData":{"properties":[{"address":"1 Main St","visitTime":"10:00"}]}})");
    EXPECT_EQ(r.validate_arguments(*r.find("sync_tour_data"), ok), std::nullopt);
}

TEST(ToolRegistryValidation, ErrorNamesTheFieldPath) {
    ToolRegistry r;
    r.add(make_tool("sync_tour_data", kTourSchema));
    const auto& tool = *r.find("sync_tour_data");
    auto wrong_type = parse_object(R"({"tourData":{"properties":[{"address":"a","visitTime":1000}]}})");
    auto problem = r.validate_arguments(tool, wrong_type);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->rfind("tourData.properties[0].visitTime: ", 0), 0u) << *problem;

    auto second = parse_object(R"({"tourData":{"properties":[{"address":"a","visitTime":"x"},
                                                             {"address":5,"visitTime":"y"}]}})");
    problem = r.validate_arguments(tool, second);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->rfind("tourData.properties[1].address: ", 0), 0u) << *problem;
}

TEST(ToolRegistryValidation, MissingRequiredPropertyNamesParentAndProperty) {
    ToolRegistry r;
    r.add(make_tool("sync_tour_data", kTourSchema));
    const auto& tool = *r.find("sync_tour_data");
    auto missing = parse_object(R"({"tourData":{"properties":[{"address":"a"}]}})");
    auto problem = r.validate_arguments(tool, missing);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->rfind("tourData.properties[0]", 0), 0u) << *problem;
    EXPECT_NE(problem->find("visitTime"), std::string::npos) << *problem;

    problem = r.validate_arguments(tool, json::object{});
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->rfind("arguments: ", 0), 0u) << *problem;
    EXPECT_NE(problem->find("tourData"), std::string::npos) << *problem;
}

TEST(ToolRegistryValidation, StrictTypesNoCoercion) {
    ToolRegistry r;
    r.add(make_tool("n", R"({"type":"object","properties":{"count":{"type":"integer"}}})"));
    EXPECT_TRUE(r.validate_arguments(*r.find("n"), parse_object(R"({"count":"5"})")));
    EXPECT_TRUE(r.validate_arguments(*r.find("n"), parse_object(R"({"count":1.5})")));
    EXPECT_FALSE(r.validate_arguments(*r.find("n"), parse_object(R"({"count":5})")));
}

TEST(ToolRegistryValidation, DefsAndRefs) {
    ToolRegistry r;
    r.add(make_tool("addr", R"({
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "type": "object",
      "$defs": {"address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
      "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
      "additionalProperties": false})"));
    const auto& tool = *r.find("addr");
    EXPECT_FALSE(r.validate_arguments(tool, parse_object(R"({"name":"x","address":{"city":"Paris"}})")));
    auto problem = r.validate_arguments(tool, parse_object(R"({"address":{"city":5}})"));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->rfind("address.city: ", 0), 0u) << *problem;
    problem = r.validate_arguments(tool, parse_object(R"({"address":{}})"));
    ASSERT_TRUE(problem);
    EXPECT_NE(problem->find("city"), std::string::npos) << *problem;
    EXPECT_TRUE(r.validate_arguments(tool, parse_object(R"({"extra":1})")));
}

// --- tools/list pages

ToolRegistry& five_tools() {
    static ToolRegistry r;
    if (r.size() == 0) {
        for (int i = 0; i < 5; ++i) {
            auto t = make_tool("tool" + std::to_string(i));
            t.title = "Tool " + std::to_string(i);
            t.output_schema = parse_object(R"({"type":"object"})");
            t.annotations = {{"readOnlyHint", true}};
            r.add(std::move(t));
        }
    }
    return r;
}

TEST(ToolRegistryList, PaginatesWithOpaqueCursors) {
    const auto& r = five_tools();
    std::vector<std::string> names;
    std::string cursor;
    int pages = 0;
    for (;;) {
        auto page = r.list_page(mcp::Revision::v2025_11_25, cursor, 2);
        ASSERT_TRUE(page) << cursor;
        auto v = json::parse(*page).as_object();
        for (const auto& t : v.at("tools").as_array()) names.emplace_back(t.at("name").as_string());
        ++pages;
        if (!v.contains("nextCursor")) break;
        cursor = v.at("nextCursor").as_string();
        ASSERT_LE(pages, 5);
    }
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(names, (std::vector<std::string>{"tool0", "tool1", "tool2", "tool3", "tool4"}));
}

TEST(ToolRegistryList, SinglePageHasNoNextCursor) {
    auto page = five_tools().list_page(mcp::Revision::v2025_11_25, "", 50);
    ASSERT_TRUE(page);
    auto v = json::parse(*page).as_object();
    EXPECT_EQ(v.at("tools").as_array().size(), 5u);
    EXPECT_FALSE(v.contains("nextCursor"));
    EXPECT_EQ(v.size(), 1u);
}

TEST(ToolRegistryList, InvalidCursorsAreRefused) {
    const auto& r = five_tools();
    for (std::string_view bad : {"x", "t", "t0", "t5", "t99", "t-1", "t2x", "T2", " t2", "t 2", "t+2", "2",
                                 "t18446744073709551616"})
        EXPECT_FALSE(r.list_page(mcp::Revision::v2025_11_25, bad, 2)) << bad;
    EXPECT_TRUE(r.list_page(mcp::Revision::v2025_11_25, "t4", 2));
}

TEST(ToolRegistryList, ShapePerRevision) {
    const auto& r = five_tools();
    auto legacy = json::parse(*r.list_page(mcp::Revision::v2025_03_26, "", 1)).at("tools").at(0).as_object();
    EXPECT_FALSE(legacy.contains("title"));
    EXPECT_FALSE(legacy.contains("outputSchema"));
    EXPECT_EQ(legacy.at("annotations").at("readOnlyHint"), true);
    EXPECT_EQ(legacy.at("inputSchema").at("type"), "object");
    EXPECT_EQ(legacy.at("description"), "A test tool.");
    for (auto rev : {mcp::Revision::v2025_06_18, mcp::Revision::v2025_11_25}) {
        auto full = json::parse(*r.list_page(rev, "", 1)).at("tools").at(0).as_object();
        EXPECT_EQ(full.at("title"), "Tool 0");
        EXPECT_EQ(full.at("outputSchema").at("type"), "object");
        EXPECT_EQ(full.at("annotations").at("readOnlyHint"), true);
    }
}

TEST(ToolRegistryList, SchemasAreListedVerbatim) {
    ToolRegistry r;
    const char* schema = R"({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
                             "$defs":{"a":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/a"}},
                             "additionalProperties":false})";
    r.add(make_tool("v", schema));
    auto listed = json::parse(*r.list_page(mcp::Revision::v2025_11_25, "", 10)).at("tools").at(0);
    EXPECT_EQ(listed.at("inputSchema"), json::parse(schema));
}

TEST(ToolResults, TextAndStructured) {
    auto t = text_result("hi");
    EXPECT_EQ(json::value(t), json::parse(R"({"content":[{"type":"text","text":"hi"}]})"));
    auto e = text_result("bad", true);
    EXPECT_EQ(e.at("isError"), true);
    auto s = structured_result(json::object{{"n", 1}});
    EXPECT_EQ(s.at("structuredContent").at("n"), 1);
    EXPECT_EQ(json::parse(s.at("content").at(0).at("text").as_string()), json::parse(R"({"n":1})"));
    EXPECT_FALSE(s.contains("isError"));
}

}  // namespace
}  // namespace rollout_mcp
