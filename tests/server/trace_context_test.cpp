// W3C trace context from _meta: only values in the W3C grammar survive; everything else is dropped silently.
#include "server/mcp/trace_context.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::mcp {
namespace {

constexpr const char* kValid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST(TraceContext, TraceparentGrammar) {
    EXPECT_TRUE(valid_traceparent(kValid));
    EXPECT_TRUE(valid_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
    EXPECT_FALSE(valid_traceparent("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"));   // uppercase
    EXPECT_FALSE(valid_traceparent("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));   // version ff
    EXPECT_FALSE(valid_traceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01"));   // zero trace id
    EXPECT_FALSE(valid_traceparent("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"));   // zero parent
    EXPECT_FALSE(valid_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x"));  // 00 is exact
    EXPECT_FALSE(valid_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01"));
    EXPECT_FALSE(valid_traceparent(std::string(kValid) + "\r\nX-Injected: 1"));
    EXPECT_FALSE(valid_traceparent(""));
    // A later version may add fields after a dash.
    EXPECT_TRUE(valid_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future"));
    EXPECT_FALSE(valid_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01future"));
    EXPECT_FALSE(valid_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-a b"));
}

TEST(TraceContext, TracestateGrammarAndSize) {
    EXPECT_TRUE(valid_tracestate("congo=t61rcWkgMzE"));
    EXPECT_TRUE(valid_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"));
    EXPECT_TRUE(valid_tracestate("tenant1@vendor=x,,a*b/c_d-e=1"));
    EXPECT_FALSE(valid_tracestate("Congo=x"));          // keys are lowercase
    EXPECT_FALSE(valid_tracestate("congo"));            // no value
    EXPECT_FALSE(valid_tracestate("congo=a=b"));
    EXPECT_FALSE(valid_tracestate("congo=x\r\nevil=1"));
    EXPECT_FALSE(valid_tracestate("congo=x "));         // outer whitespace: it would not survive as a header value
    EXPECT_FALSE(valid_tracestate(" congo=x"));
    EXPECT_FALSE(valid_tracestate(""));
    std::string members;
    for (int i = 0; i < 33; ++i) members += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v";
    EXPECT_FALSE(valid_tracestate(members));             // more than 32 members
    EXPECT_FALSE(valid_tracestate("a=" + std::string(511, 'x')));   // 513 bytes
    EXPECT_TRUE(valid_tracestate("a=" + std::string(254, 'x') + ",b=" + std::string(253, 'y')));   // 512 bytes
}

TEST(TraceContext, FromMetaKeepsOnlyValidValues) {
    auto params = boost::json::parse(std::string(R"({"_meta":{"traceparent":")") + kValid +
                                     R"(","tracestate":"congo=t61rcWkgMzE"}})").as_object();
    auto trace = trace_context_from(&params);
    EXPECT_EQ(trace.traceparent, kValid);
    EXPECT_EQ(trace.tracestate, "congo=t61rcWkgMzE");
    // A bad tracestate is dropped on its own; a bad traceparent takes tracestate with it.
    params = boost::json::parse(std::string(R"({"_meta":{"traceparent":")") + kValid + R"(","tracestate":"BAD"}})").as_object();
    EXPECT_EQ(trace_context_from(&params).tracestate, "");
    EXPECT_EQ(trace_context_from(&params).traceparent, kValid);
    params = boost::json::parse(R"({"_meta":{"traceparent":"nope","tracestate":"congo=x"}})").as_object();
    EXPECT_TRUE(trace_context_from(&params).empty());
    EXPECT_EQ(trace_context_from(&params).tracestate, "");
    params = boost::json::parse(R"({"_meta":{"traceparent":42}})").as_object();
    EXPECT_TRUE(trace_context_from(&params).empty());
    EXPECT_TRUE(trace_context_from(nullptr).empty());
}

}  // namespace
}  // namespace rollout_mcp::mcp
