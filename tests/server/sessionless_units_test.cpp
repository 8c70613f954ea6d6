// Pure units of the 2026-07-28 path: strict Base64 in Mcp-Param-* values, x-mcp-header annotations, and sealed
// requestState tokens (expiry, team and tool binding, every byte covered).
#include "server/mcp/param_headers.hpp"
#include "server/mcp/request_state.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::mcp {
namespace {
namespace json = boost::json;

TEST(ParamHeaders, StrictBase64) {
    EXPECT_EQ(decode_base64_strict("SGVsbG8="), "Hello");
    EXPECT_EQ(decode_base64_strict(""), "");
    EXPECT_FALSE(decode_base64_strict("SGVsbG8"));       // no padding
    EXPECT_FALSE(decode_base64_strict("SGVsbG9="));      // non-canonical trailing bits
    EXPECT_FALSE(decode_base64_strict("SGVs!!!bG8="));
    EXPECT_FALSE(decode_base64_strict("SG=sbG8="));      // padding in the middle
    EXPECT_FALSE(decode_base64_strict("SGVs bG8="));
}

TEST(ParamHeaders, AnnotationsMustBePrimitiveTokens) {
    auto schema = [](const char* text) { return json::parse(text).as_object(); };
    auto params = header_params_of(schema(R"({"type":"object","properties":{"crmType":{"type":"string","x-mcp-header":"CrmType"}}})"));
    ASSERT_EQ(params.size(), 1u);
    EXPECT_EQ(params[0].header, "CrmType");
    EXPECT_THROW(header_params_of(schema(R"({"properties":{"a":{"type":"object","x-mcp-header":"A"}}})")), std::invalid_argument);
    EXPECT_THROW(header_params_of(schema(R"({"properties":{"a":{"type":"string","x-mcp-header":"A B"}}})")), std::invalid_argument);
    EXPECT_THROW(header_params_of(schema(R"({"properties":{"a":{"type":"string","x-mcp-header":"A"},"b":{"type":"string","x-mcp-header":"a"}}})")),
                 std::invalid_argument);
}

TEST(ParamHeaders, ValuesCompareAsText) {
    std::vector<HeaderParam> params{{"n", "N"}, {"b", "B"}};
    const auto args = json::parse(R"({"n": 42, "b": true})").as_object();
    using H = std::vector<std::pair<std::string_view, std::string_view>>;
    EXPECT_FALSE(param_header_problem(params, args, H{{"N", "42"}, {"b", "true"}}));
    EXPECT_TRUE(param_header_problem(params, args, H{{"N", "42.0"}, {"B", "true"}}));
    EXPECT_TRUE(param_header_problem(params, args, H{{"N", "42"}, {"B", "True"}}));
    EXPECT_TRUE(param_header_problem(params, args, H{{"N", "42"}}));
    EXPECT_FALSE(param_header_problem(params, json::object{}, H{}));
    EXPECT_TRUE(param_header_problem(params, json::object{}, H{{"n", "1"}}));
}

TEST(RequestState, SealedTokensOpenOnlyForTheirTeamToolAndTime) {
    RequestStateCodec codec(std::string(32, 'k'), std::chrono::seconds(60));
    const auto now = RequestStateCodec::Clock::now();
    const json::value state = json::object{{"round", 1}};
    const auto token = codec.seal("team-a", "tool", state, now);
    EXPECT_EQ(codec.open("team-a", "tool", token, now), state);
    EXPECT_FALSE(codec.open("team-b", "tool", token, now));
    EXPECT_FALSE(codec.open("team-a", "other", token, now));
    EXPECT_FALSE(codec.open("team-a", "tool", token, now + std::chrono::seconds(61)));
    EXPECT_FALSE(codec.open("team-a", "tool", token + "x", now));
    for (std::size_t i = 0; i < token.size(); ++i) {   // every byte is covered
        std::string t = token;
        t[i] = t[i] == 'A' ? 'B' : 'A';
        EXPECT_FALSE(codec.open("team-a", "tool", t, now)) << i;
    }
    RequestStateCodec other(std::string(32, 'j'), std::chrono::seconds(60));
    EXPECT_FALSE(other.open("team-a", "tool", token, now));
    EXPECT_NE(codec.seal("team-a", "tool", state, now), codec.seal("team-a", "tool", json::object{{"round", 2}}, now));
}

}  // namespace
}  // namespace rollout_mcp::mcp
