// Fixture tools as the conformance suite's server scenarios expect them (research/mcp.md section 5).
#include "fixture_tools.hpp"

#include "tool_registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// A 1x1 transparent PNG and a minimal (silent) WAV file.
constexpr const char* kPng =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
constexpr const char* kWav = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQIAAAAAAA==";

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);   // throws when the call is cancelled
}

json::object no_args() { return {{"type", "object"}, {"additionalProperties", false}}; }

ToolDefinition tool(std::string name, std::string description, ToolHandler handler, json::object schema = no_args()) {
    ToolDefinition t;
    t.name = std::move(name);
    t.description = std::move(description);
    t.input_schema = std::move(schema);
    t.handler = std::move(handler);
    return t;
}

ToolResult content(json::array blocks) { return ToolResult{{"content", std::move(blocks)}}; }

}  // namespace

void register_fixture_tools(ToolRegistry& registry) {
    registry.add(tool("test_simple_text", "Returns a simple text response (conformance fixture).",
                      [](ToolContext&, const json::object&) -> asio::awaitable<ToolResult> {
                          co_return text_result("This is a simple text response for testing.");
                      }));
    registry.add(tool("test_image_content", "Returns a 1x1 PNG image (conformance fixture).",
                      [](ToolContext&, const json::object&) -> asio::awaitable<ToolResult> {
                          co_return content({json::object{{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}}});
                      }));
    registry.add(tool("test_audio_content", "Returns a short WAV clip (conformance fixture).",
                      [](ToolContext&, const json::object&) -> asio::awaitable<ToolResult> {
                          co_return content({json::object{{"type", "audio"}, {"data", kWav}, {"mimeType", "audio/wav"}}});
                      }));
    registry.add(tool("test_embedded_resource", "Returns an embedded text resource (conformance fixture).",
                      [](ToolContext&, const json::object&) -> asio::awaitable<ToolResult> {
                          json::object resource{{"uri", "test://embedded-resource"},
                                                {"mimeType", "text/plain"},
                                                {"text", "This is an embedded resource content."}};
                          co_return content({json::object{{"type", "resource"}, {"resource", resource}}});
                      }));
    registry.add(tool("test_multiple_content_types", "Returns text, image and resource content (conformance fixture).",
                      [](ToolContext&, const json::object&) -> asio::awaitable<ToolResult> {
                          json::object resource{{"uri", "test://mixed-content-resource"},
                                                {"mimeType", "application/json"},
                                                {"text", R"({"test":"data","value":123})"}};
                          co_return content({json::object{{"type", "text"}, {"text", "Multiple content types test:"}},
                                             json::object{{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}},
                                             json::object{{"type", "resource"}, {"resource", resource}}});
                      }));
    auto logging = tool("test_tool_with_logging", "Sends three log notifications while it runs (conformance fixture).",
                        [](ToolContext& ctx, const json::object&) -> asio::awaitable<ToolResult> {
                            ctx.log(mcp::LogLevel::info, "Tool execution started");
                            co_await sleep_for(std::chrono::milliseconds(50));
                            ctx.log(mcp::LogLevel::info, "Tool processing data");
                            co_await sleep_for(std::chrono::milliseconds(50));
                            ctx.log(mcp::LogLevel::info, "Tool execution completed");
                            co_return text_result("Tool with logging executed successfully");
                        });
    logging.streams = true;
    registry.add(std::move(logging));
    auto progress = tool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100 (conformance fixture).",
                         [](ToolContext& ctx, const json::object&) -> asio::awaitable<ToolResult> {
                             ctx.progress(0, 100, "Starting");
                             co_await sleep_for(std::chrono::milliseconds(50));
                             ctx.progress(50, 100, "Halfway");
                             co_await sleep_for(std::chrono::milliseconds(50));
                             ctx.progress(100, 100, "Done");
                             co_return text_result("Progress tool completed");
                         });
    progress.streams = true;
    registry.add(std::move(progress));
    registry.add(tool("test_error_handling", "Always returns a tool error (conformance fixture).",
                      [](ToolContext&, const json::object&) -> asio::awaitable<ToolResult> {
                          co_return text_result("This tool intentionally returns an error for testing", true);
                      }));
    auto reconnection = tool("test_reconnection",
                             "Closes its SSE connection before answering; the client resumes with Last-Event-ID "
                             "(conformance fixture).",
                             [](ToolContext& ctx, const json::object&) -> asio::awaitable<ToolResult> {
                                 ctx.end_sse_connection();
                                 co_await sleep_for(std::chrono::milliseconds(100));
                                 co_return text_result("Reconnection test completed successfully");
                             });
    reconnection.streams = true;
    registry.add(std::move(reconnection));
    registry.add(tool("json_schema_2020_12_tool", "Accepts arguments described by a JSON Schema 2020-12 document (conformance fixture).",
                      [](ToolContext&, const json::object& args) -> asio::awaitable<ToolResult> {
                          co_return text_result("Received: " + json::serialize(args));
                      },
                      json::parse(R"({
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "type": "object",
                        "$defs": {"address": {"type": "object",
                                              "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
                        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
                        "additionalProperties": false})").as_object()));
    auto echo = tool("echo", "Echoes its text argument back (benchmark and test fixture).",
                     [](ToolContext&, const json::object& args) -> asio::awaitable<ToolResult> {
                         co_return text_result(args.at("text").as_string());
                     },
                     json::parse(R"({"type": "object", "properties": {"text": {"type": "string", "description": "Text to echo"}},
                                     "required": ["text"], "additionalProperties": false})").as_object());
    echo.annotations = {{"readOnlyHint", true}, {"idempotentHint", true}, {"openWorldHint", false}};
    registry.add(std::move(echo));
}

}  // namespace rollout_mcp
