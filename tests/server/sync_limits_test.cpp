// The limits table (rollout/limits.hpp) against the registered sync tools: for every bounded entry, a
// value exactly at each bound passes both the tool's JSON Schema (the registry's own validation path) and
// the parser, and one past it is refused by both, the parser naming the field's path. Also: unknown
// fields are accepted by the schema and reported (not kept) by the parser.
#include "server/tools/rollout_tools.hpp"
#include "storage/storage_executor.hpp"
#include "server/sync/team_rollout.hpp"

#include "rollout/limits.hpp"
#include "rollout/model.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp {
namespace {
namespace json = boost::json;
using rollout::limits::FieldLimit;
using rollout::limits::Kind;

// The product's sync tools, registered as `serve` does; no handler runs, so nothing behind them is used.
const ToolRegistry& registry() {
    static const ToolRegistry* r = [] {
        auto* storage = new StorageExecutor(nullptr);
        auto* team = new TeamRollout(*storage, rollout::HttpPool::create({}), {});
        auto* out = new ToolRegistry;
        register_sync_tools(*out, SyncToolsDeps{team, nullptr, std::chrono::milliseconds(0)});
        return out;
    }();
    return *r;
}

json::object valid_args(bool tour) {
    if (tour)
        return json::parse(R"({"tourData":{"tourId":"T","agentId":"A","properties":[
            {"propertyId":"P","address":"1 Main St","visitTime":"2026-03-01T10:00:00Z"}]}})").as_object();
    return json::parse(R"({"feedbackData":{"propertyId":"P","tourId":"T","feedback":"nice"}})").as_object();
}

// A text of exactly n characters that is otherwise valid for the field.
std::string text_of(std::string_view path, std::int64_t n) {
    const auto size = static_cast<std::size_t>(std::max<std::int64_t>(n, 0));
    if (path.ends_with("visitTime") || path.ends_with("timestamp")) {
        const std::string head = "2026-03-01T10:00:00.";   // fraction digits pad it to any length >= 22
        return head + std::string(size - head.size() - 1, '0') + "Z";
    }
    if (path.ends_with("mail")) return "a@" + std::string(size - 2, 'x');
    return std::string(size, 'x');
}

// The slot at `path` ("tourData.properties[].address": item 0) inside args, created as needed.
json::value& slot(json::object& args, std::string_view path) {
    json::object* obj = &args;
    for (;;) {
        const auto dot = path.find('.');
        std::string_view key = path.substr(0, dot);
        const bool item = key.ends_with("[]");
        if (item) key.remove_suffix(2);
        json::value& v = (*obj)[key];
        if (dot == std::string_view::npos) return v;
        if (item) {
            obj = &v.as_array().at(0).as_object();
        } else {
            if (!v.is_object()) v = json::object{};
            obj = &v.as_object();
        }
        path.remove_prefix(dot + 1);
    }
}

// A value of `f` at `bound` (and, for arrays, `bound` distinct items).
json::value value_at(const FieldLimit& f, std::int64_t bound) {
    switch (f.kind) {
    case Kind::string:
    case Kind::id: return json::string(text_of(f.path, bound));
    case Kind::integer: return bound;
    case Kind::number: return static_cast<double>(bound);
    case Kind::array: {
        json::array visits;
        for (std::int64_t i = 0; i < bound; ++i)
            visits.push_back(json::object{{"propertyId", "P" + std::to_string(i)}, {"address", "1 Main St"},
                                          {"visitTime", "2026-03-01T10:00:00Z"}});
        return visits;
    }
    case Kind::object: break;
    }
    return nullptr;
}

struct Verdict {
    std::optional<std::string> schema;   // nullopt: accepted
    std::optional<std::string> parser;
};

Verdict judge(const FieldLimit& f, const json::value& value) {
    const bool top = f.path.find('.') == std::string_view::npos;
    const bool tour = top || f.path.starts_with("tourData");
    json::object args = valid_args(tour);
    slot(args, f.path) = value;
    Verdict v;
    const auto* tool = registry().find(tour ? "sync_tour_data" : "sync_feedback_data");
    v.schema = registry().validate_arguments(*tool, args);
    if (top) {
        // The tools check these two themselves, with the same table entry.
        if (auto problem = rollout::limits::check_text(f, value.as_string())) v.parser = std::string(f.path) + ": " + *problem;
    } else if (tour) {
        auto t = rollout::parse_tour(args.at("tourData"), "tourData");
        if (!t) v.parser = t.error().message;
    } else {
        auto fb = rollout::parse_feedback(args.at("feedbackData"), "feedbackData");
        if (!fb) v.parser = fb.error().message;
    }
    return v;
}

std::string concrete(std::string_view path) {
    std::string out(path);
    for (auto at = out.find("[]"); at != std::string::npos; at = out.find("[]")) out.replace(at, 2, "[0]");
    return out;
}

TEST(SyncLimits, EveryTableEntryAgreesBetweenSchemaAndParser) {
    std::size_t walked = 0;
    for (const FieldLimit& f : rollout::limits::fields()) {
        if (f.kind == Kind::object) continue;
        SCOPED_TRACE(std::string(f.path));
        ++walked;
        const bool text = f.kind == Kind::string || f.kind == Kind::id;
        // At the upper bound: accepted by both.
        auto at_max = judge(f, value_at(f, f.max));
        EXPECT_EQ(at_max.schema, std::nullopt);
        // A zone name is also checked against the tz database: at the length bound the parser refuses it
        // for not naming a zone, never for its length.
        const bool zone = f.path.ends_with("timeZone");
        if (zone) {
            ASSERT_NE(at_max.parser, std::nullopt);
            EXPECT_NE(at_max.parser->find("is not an IANA time zone"), std::string::npos) << *at_max.parser;
        } else {
            EXPECT_EQ(at_max.parser, std::nullopt);
        }
        // One past it: refused by both, the parser naming the field.
        auto past_max = judge(f, value_at(f, f.max + 1));
        EXPECT_NE(past_max.schema, std::nullopt);
        ASSERT_NE(past_max.parser, std::nullopt);
        EXPECT_EQ(past_max.parser->rfind(concrete(f.path) + ": ", 0), 0u) << *past_max.parser;
        // The lower bound (texts: one character, unless the field's format needs more).
        if (!text || !(f.path.ends_with("Time") || f.path.ends_with("timestamp") || f.path.ends_with("mail") || zone)) {
            auto at_min = judge(f, value_at(f, f.min));
            EXPECT_EQ(at_min.schema, std::nullopt);
            EXPECT_EQ(at_min.parser, std::nullopt);
        }
        auto below_min = judge(f, text ? json::value(json::string()) : value_at(f, f.min - 1));
        EXPECT_NE(below_min.schema, std::nullopt);
        ASSERT_NE(below_min.parser, std::nullopt);
        EXPECT_EQ(below_min.parser->rfind(concrete(f.path) + ": ", 0), 0u) << *below_min.parser;
    }
    EXPECT_GE(walked, 24u);   // every bounded field of both tools
}

// The schemas advertise exactly the table's bounds (no second copy of a number anywhere).
TEST(SyncLimits, SchemasAreBuiltFromTheTable) {
    const auto& tour = registry().find("sync_tour_data")->input_schema;
    const auto& address = tour.at("properties").at("tourData").at("properties").at("properties").at("items")
                              .at("properties").at("address");
    EXPECT_EQ(address.at("maxLength").to_number<std::int64_t>(),
              rollout::limits::field("tourData.properties[].address").max);
    const auto& feedback = registry().find("sync_feedback_data")->input_schema;
    EXPECT_EQ(feedback.at("properties").at("feedbackData").at("properties").at("interestLevel").at("maxLength")
                  .to_number<std::int64_t>(), 64);
    EXPECT_EQ(feedback.at("properties").at("idempotencyKey").at("maxLength").to_number<std::int64_t>(), 200);
    EXPECT_EQ(tour.at("properties").at("tourData").at("required"), json::parse(R"(["tourId","agentId","properties"])"));
}

// Unknown fields at every level pass the schema and are listed (not kept) by the parser.
TEST(SyncLimits, UnknownFieldsAreAcceptedAndReported) {
    json::object args = json::parse(R"({"tourData":{"tourId":"T","agentId":"A","mood":"sunny",
        "buyer":{"name":"Ann","shoeSize":9},
        "properties":[{"propertyId":"P","address":"1 Main St","visitTime":"2026-03-01T10:00:00Z"},
                      {"propertyId":"Q","address":"2 Main St","visitTime":"2026-03-01T11:00:00Z","color":"red"}]}})")
                            .as_object();
    EXPECT_EQ(registry().validate_arguments(*registry().find("sync_tour_data"), args), std::nullopt);
    std::vector<std::string> ignored;
    auto t = rollout::parse_tour(args.at("tourData"), "tourData", &ignored);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(ignored, (std::vector<std::string>{"tourData.mood", "tourData.buyer.shoeSize",
                                                 "tourData.properties[1].color"}));
    const auto normalized = json::serialize(rollout::to_json(*t));
    for (const char* gone : {"mood", "sunny", "shoeSize", "color", "red"})
        EXPECT_EQ(normalized.find(gone), std::string::npos) << gone;

    json::object fb = json::parse(R"({"feedbackData":{"propertyId":"P","tourId":"T","feedback":"ok","secret":1}})")
                          .as_object();
    EXPECT_EQ(registry().validate_arguments(*registry().find("sync_feedback_data"), fb), std::nullopt);
    ignored.clear();
    ASSERT_TRUE(rollout::parse_feedback(fb.at("feedbackData"), "feedbackData", &ignored));
    EXPECT_EQ(ignored, std::vector<std::string>{"feedbackData.secret"});
}

}  // namespace
}  // namespace rollout_mcp
