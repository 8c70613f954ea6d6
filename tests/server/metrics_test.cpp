// The Prometheus writer against the text exposition format (0.0.4): HELP/TYPE lines, label escaping,
// cumulative histogram buckets with +Inf, _sum and _count, one family per name, collect hooks.
#include "server/app/metrics.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <thread>

using namespace rollout_mcp::metrics;

namespace {

// Every non-comment line must be `name{labels} value` as the format defines.
void expect_valid_exposition(const std::string& text) {
    static const std::regex sample(
        R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)");
    static const std::regex comment(R"(^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram))$)");
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        EXPECT_TRUE(std::regex_match(line, line[0] == '#' ? comment : sample)) << "bad line: " << line;
    }
}

}  // namespace

TEST(Metrics, CountersAndGaugesRenderWithHelpTypeAndLabels) {
    Registry r;
    r.counter("t_requests_total", "Requests", {"method"}).with({"GET"}).inc();
    r.counter("t_requests_total", "Requests", {"method"}).with({"GET"}).inc(2);
    r.gauge("t_live", "Live things").with({}).set(7);
    const auto text = r.render();
    EXPECT_NE(text.find("# HELP t_requests_total Requests\n# TYPE t_requests_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("t_requests_total{method=\"GET\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("t_live 7\n"), std::string::npos);
    EXPECT_EQ(text.find("# TYPE t_requests_total counter", text.find("# TYPE t_requests_total counter") + 1),
              std::string::npos) << "one family per name";
    expect_valid_exposition(text);
}

TEST(Metrics, LabelValuesAreEscaped) {
    Registry r;
    r.counter("t_odd_total", "Odd \\ help\nline", {"v"}).with({"a\"b\\c\nd"}).inc();
    const auto text = r.render();
    EXPECT_NE(text.find(R"(t_odd_total{v="a\"b\\c\nd"} 1)"), std::string::npos) << text;
    EXPECT_NE(text.find("# HELP t_odd_total Odd \\\\ help\\nline\n"), std::string::npos) << text;
    expect_valid_exposition(text);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
    Registry r;
    auto& h = r.histogram("t_seconds", "Latency", {"tool"}, {0.1, 1, 10}).with({"echo"});
    for (double v : {0.05, 0.1, 0.5, 5.0, 50.0}) h.observe(v);
    const auto text = r.render();
    EXPECT_NE(text.find("t_seconds_bucket{tool=\"echo\",le=\"0.1\"} 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("t_seconds_bucket{tool=\"echo\",le=\"1\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("t_seconds_bucket{tool=\"echo\",le=\"10\"} 4\n"), std::string::npos);
    EXPECT_NE(text.find("t_seconds_bucket{tool=\"echo\",le=\"+Inf\"} 5\n"), std::string::npos);
    EXPECT_NE(text.find("t_seconds_sum{tool=\"echo\"} 55.65\n"), std::string::npos);
    EXPECT_NE(text.find("t_seconds_count{tool=\"echo\"} 5\n"), std::string::npos);
    expect_valid_exposition(text);
}

TEST(Metrics, ValuesUseShortestExactText) {
    EXPECT_EQ(format_value(3), "3");
    EXPECT_EQ(format_value(0.005), "0.005");
    EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
}

TEST(Metrics, CollectHooksRunAtRenderAndCanBeRemoved) {
    Registry r;
    auto& g = r.gauge("t_hooked", "Hooked").with({});
    int calls = 0;
    auto id = r.on_collect([&] { g.set(++calls); });
    EXPECT_NE(r.render().find("t_hooked 1\n"), std::string::npos);
    r.remove_collect(id);
    r.render();
    EXPECT_EQ(calls, 1);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
    Registry r;
    auto& c = r.counter("t_concurrent_total", "Concurrent").with({});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) c.inc();
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(c.value(), 40000);
}
