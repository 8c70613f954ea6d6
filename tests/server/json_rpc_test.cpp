// JSON-RPC framing: parse limits, message classification, id types, reply builders.
#include "server/mcp/json_rpc.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::jsonrpc {
namespace {
namespace json = boost::json;

Result<json::value> parse_text(std::string_view text, std::size_t depth = 64) { return parse(text, {depth}); }

// What a failed parse said; empty when it parsed.
std::string problem(const Result<json::value>& parsed) { return parsed ? std::string() : parsed.error().message; }

// Message::params points into the document: keep the last one alive.
Message classify_text(std::string_view text) {
    static json::value doc;
    doc = json::parse(text);
    return classify(doc);
}

std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonRpcParse, AcceptsValidJson) {
    auto v = parse_text(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->is_object());
}

TEST(JsonRpcParse, StringAndNumberSizesAreCappedAsWritten) {
    const ParseLimits limits{64, 8, 4};
    Result<json::value> last;
    // Exactly at the limits: accepted. Strings count the bytes between the quotes, keys too.
    EXPECT_TRUE((last = parse(R"({"12345678":["abcdefgh",1234,-1.5,1e10,true,false,null]})", limits))) << problem(last);
    for (std::string_view over : {R"(["123456789"])", R"({"123456789":1})", R"([12345])", R"([-1234])",
                                  R"([1.5e10])"}) {
        EXPECT_FALSE((last = parse(over, limits))) << over;
    }
    EXPECT_FALSE((last = parse(R"(["123456789"])", limits)));
    EXPECT_EQ(problem(last), "a JSON string is longer than 8 bytes");
    EXPECT_FALSE((last = parse("[123456]", limits)));
    EXPECT_EQ(problem(last), "a JSON number is longer than 4 characters");
    // Escapes count as written; an escaped quote does not end the string.
    EXPECT_FALSE((last = parse(R"(["\u00e9\u00e9"])", limits)));
    EXPECT_TRUE((last = parse(R"(["a\"b\\"])", limits))) << problem(last);
    EXPECT_FALSE((last = parse(R"(["a\"bcdefgh"])", limits)));
    // Digits inside strings are not numbers.
    EXPECT_TRUE((last = parse(R"(["12345678"])", limits))) << problem(last);
    const auto sizes = longest_tokens(R"({"ab":[-12.5e3,"x\"yz"]})");
    EXPECT_EQ(sizes.string_bytes, 5u);
    EXPECT_EQ(sizes.number_chars, 7u);
}

TEST(JsonRpcParse, RejectsMalformedAndIncompleteText) {
    for (std::string_view bad : {"", "{", R"({"a":)", "{'a':1}", R"({"a":1} x)", R"({"a":1}{"b":2})", "nul",
                                 "[1,]", "\"\xff\""}) {
        Result<json::value> last;
        EXPECT_FALSE((last = parse(bad, {64}))) << bad;
        EXPECT_NE(problem(last).find("invalid JSON"), std::string::npos) << bad << " -> " << problem(last);
    }
}

TEST(JsonRpcParse, NestingDepthLimitIsEnforced) {
    EXPECT_TRUE(parse_text(nested_arrays(8), 8));
    Result<json::value> last;
    EXPECT_FALSE((last = parse(nested_arrays(9), {8})));
    EXPECT_EQ(problem(last), "JSON nested too deeply");
    // Objects count too, and the default limit stops a hostile document early.
    std::string deep_objects;
    for (int i = 0; i < 100; ++i) deep_objects += R"({"a":)";
    deep_objects += "1" + std::string(100, '}');
    EXPECT_FALSE((last = parse(deep_objects, {64})));
    EXPECT_EQ(problem(last), "JSON nested too deeply");
    EXPECT_TRUE(parse_text(deep_objects, 128));
}

TEST(JsonRpcClassify, Request) {
    auto m = classify_text(R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":"x"}})");
    EXPECT_EQ(m.kind, Kind::request);
    EXPECT_EQ(m.method, "tools/list");
    ASSERT_NE(m.params, nullptr);
    EXPECT_EQ(m.params->at("cursor").as_string(), "x");
    EXPECT_TRUE(m.id.is_int64());
    EXPECT_EQ(m.id.as_int64(), 7);
}

TEST(JsonRpcClassify, RequestWithoutParams) {
    auto m = classify_text(R"({"jsonrpc":"2.0","id":"a","method":"ping"})");
    EXPECT_EQ(m.kind, Kind::request);
    EXPECT_EQ(m.params, nullptr);
}

TEST(JsonRpcClassify, Notification) {
    auto m = classify_text(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    EXPECT_EQ(m.kind, Kind::notification);
    EXPECT_TRUE(m.id.is_null());
    EXPECT_EQ(m.method, "notifications/initialized");
}

TEST(JsonRpcClassify, ResultAndErrorResponses) {
    auto r = classify_text(R"({"jsonrpc":"2.0","id":3,"result":{}})");
    EXPECT_EQ(r.kind, Kind::response);
    EXPECT_EQ(r.id.as_int64(), 3);
    auto e = classify_text(R"({"jsonrpc":"2.0","id":"s-1","error":{"code":-32601,"message":"nope"}})");
    EXPECT_EQ(e.kind, Kind::response);
    EXPECT_EQ(e.id.as_string(), "s-1");
}

TEST(JsonRpcClassify, ErrorResponseWithoutOrWithNullIdIsAResponse) {
    // 2025-11-25: an error about an unreadable request omits the id (JSON-RPC 2.0: null).
    EXPECT_EQ(classify_text(R"({"jsonrpc":"2.0","error":{"code":-32700,"message":"x"}})").kind, Kind::response);
    EXPECT_EQ(classify_text(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}})").kind,
              Kind::response);
    // A result always answers a known request.
    EXPECT_EQ(classify_text(R"({"jsonrpc":"2.0","result":{}})").kind, Kind::invalid);
    EXPECT_EQ(classify_text(R"({"jsonrpc":"2.0","id":null,"result":{}})").kind, Kind::invalid);
}

TEST(JsonRpcClassify, IdTypesStayDistinct) {
    auto integer = classify_text(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
    auto text = classify_text(R"({"jsonrpc":"2.0","id":"1","method":"ping"})");
    ASSERT_EQ(integer.kind, Kind::request);
    ASSERT_EQ(text.kind, Kind::request);
    EXPECT_NE(id_key(integer.id), id_key(text.id));
    EXPECT_EQ(id_key(integer.id), "1");
    EXPECT_EQ(id_key(text.id), "\"1\"");
    EXPECT_EQ(result(text.id, json::object{}), R"({"jsonrpc":"2.0","id":"1","result":{}})");
    EXPECT_EQ(result(integer.id, json::object{}), R"({"jsonrpc":"2.0","id":1,"result":{}})");
}

TEST(JsonRpcClassify, LargeAndNegativeIntegerIdsAreValid) {
    auto big = classify_text(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"})");
    EXPECT_EQ(big.kind, Kind::request);
    EXPECT_EQ(result(big.id, json::object{}), R"({"jsonrpc":"2.0","id":18446744073709551615,"result":{}})");
    EXPECT_EQ(classify_text(R"({"jsonrpc":"2.0","id":-5,"method":"ping"})").kind, Kind::request);
}

TEST(JsonRpcClassify, FloatNullBoolAndStructuredIdsAreRejected) {
    for (std::string_view id : {"1.5", "1.0", "1e3", "null", "true", "false", "[1]", "{\"a\":1}"}) {
        auto m = classify_text(R"({"jsonrpc":"2.0","method":"ping","id":)" + std::string(id) + "}");
        EXPECT_EQ(m.kind, Kind::invalid) << id;
        EXPECT_TRUE(m.id.is_null()) << "an unreadable id is not echoed: " << id;
        EXPECT_NE(m.problem.find("id"), std::string::npos) << m.problem;
    }
}

TEST(JsonRpcClassify, InvalidShapes) {
    struct Case {
        const char* text;
        const char* problem_mentions;
    };
    for (auto c : {Case{"[]", "object"}, Case{"42", "object"}, Case{R"("ping")", "object"},
                   Case{R"({"id":1,"method":"ping"})", "jsonrpc"},
                   Case{R"({"jsonrpc":"1.0","id":1,"method":"ping"})", "jsonrpc"},
                   Case{R"({"jsonrpc":2.0,"id":1,"method":"ping"})", "jsonrpc"},
                   Case{R"({"jsonrpc":"2.0","id":1,"method":5})", "method"},
                   Case{R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1,2]})", "params"},
                   Case{R"({"jsonrpc":"2.0","id":1,"method":"x","params":"p"})", "params"},
                   Case{R"({"jsonrpc":"2.0","id":1})", "not a request"},
                   Case{R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}})", "not a request"},
                   Case{R"({"jsonrpc":"2.0","id":1,"error":"boom"})", "error"},
                   Case{R"({"jsonrpc":"2.0"})", "not a request"}}) {
        auto m = classify_text(c.text);
        EXPECT_EQ(m.kind, Kind::invalid) << c.text;
        EXPECT_NE(m.problem.find(c.problem_mentions), std::string::npos) << c.text << " -> " << m.problem;
    }
}

TEST(JsonRpcClassify, InvalidMessageKeepsAReadableIdForTheErrorReply) {
    auto m = classify_text(R"({"jsonrpc":"1.0","id":9,"method":"ping"})");
    EXPECT_EQ(m.kind, Kind::invalid);
    EXPECT_EQ(m.id, json::value(9));
}

TEST(JsonRpcBuild, ErrorWithoutIdOmitsTheKey) {
    auto text = error(nullptr, code::parse_error, "Parse error");
    auto v = json::parse(text).as_object();
    EXPECT_FALSE(v.contains("id"));
    EXPECT_EQ(v.at("jsonrpc"), "2.0");
    EXPECT_EQ(v.at("error").at("code"), -32700);
    EXPECT_EQ(v.at("error").at("message"), "Parse error");
    EXPECT_FALSE(v.at("error").as_object().contains("data"));
}

TEST(JsonRpcBuild, ErrorWithIdAndData) {
    json::value data{{"field", "x"}};
    auto v = json::parse(error("abc", code::invalid_params, "bad", &data)).as_object();
    EXPECT_EQ(v.at("id"), "abc");
    EXPECT_EQ(v.at("error").at("code"), -32602);
    EXPECT_EQ(v.at("error").at("data").at("field"), "x");
    EXPECT_EQ(v.size(), 3u);
}

TEST(JsonRpcBuild, ResultRawAndNotification) {
    EXPECT_EQ(result_raw(4, R"({"tools":[]})"), R"({"jsonrpc":"2.0","id":4,"result":{"tools":[]}})");
    auto n = json::parse(notification("notifications/progress", json::object{{"progress", 1}})).as_object();
    EXPECT_EQ(n.at("method"), "notifications/progress");
    EXPECT_FALSE(n.contains("id"));
    EXPECT_EQ(n.at("params").at("progress"), 1);
}

TEST(JsonRpcBuild, ResultsRoundTripThroughClassify) {
    auto m = classify(json::parse(result(12, json::object{{"ok", true}})));
    EXPECT_EQ(m.kind, Kind::response);
    EXPECT_EQ(m.id, json::value(12));
}

}  // namespace
}  // namespace rollout_mcp::jsonrpc
