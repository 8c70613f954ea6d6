// The phone search stops at its first match, and the marker-tag search parses only pages that hold the tag
// (rollout/list_outline.hpp): whatever the CRM's
// pages look like (escaped text, the tag inside other text, keys in any order or given twice, broken pages),
// it finds exactly what a search parsing every page finds, follows the same cursors and fails the same way.
#include "rollout/client.hpp"
#include "rollout/list_outline.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <random>

namespace rollout_mcp::rollout::test {
namespace {
namespace json = boost::json;

const std::string kTag = "reanna:team_1:buyer:b-7";

// Page n of a people list (cursor "c<n+1>" until `last`), 100 people without the tag; `extra` is spliced
// into the page's last person.
std::string people_page(int n, int last, const std::string& extra = "", bool metadata_first = true) {
    std::string people = "[";
    for (int i = 0; i < 100; ++i) {
        if (i) people += ",";
        people += R"({"id":")" + std::to_string(n) + "-" + std::to_string(i) +
                  R"(","firstName":"Ann","emails":[{"value":"a@x.io"}],"tags":["reanna","reanna:team_1:buyer:other"])";
        if (i == 99) people += extra;
        people += "}";
    }
    people += "]";
    const std::string next = n < last ? R"("c)" + std::to_string(n + 1) + R"(")" : "null";
    const std::string metadata = R"("_metadata":{"collection":"people","next":)" + next + "}";
    return metadata_first ? "{" + metadata + R"(,"people":)" + people + "}"
                          : R"({"people":)" + people + "," + metadata + "}";
}

int page_number(const RecordedRequest& q) {
    const auto at = q.target.find("next=c");
    return at == std::string::npos ? 1 : std::stoi(q.target.substr(at + 6));
}

struct Search {
    explicit Search(std::function<ScriptedReply(const RecordedRequest&)> script, std::size_t max_pages = 100)
        : stub(std::move(script)) {
        auto config = config_for(stub.url());
        config.max_search_pages = max_pages;
        client = std::make_unique<RolloutClient>(HttpPool::create(fast_options({stub.url()})), config);
    }
    Result<std::optional<Record>> find() { return run_sync(client->find_person_by_tag("c", kTag)); }
    std::size_t outlined() const { return client->pages_outlined(); }
    ScriptedRollout stub;
    std::unique_ptr<RolloutClient> client;
};

TEST(TagSearch, FindsTheTagOnALaterPageWhateverOrderTheKeysCome) {
    for (const bool metadata_first : {true, false}) {
        Search s([&](const RecordedRequest& q) {
            const int n = page_number(q);
            return ScriptedReply{200, people_page(n, 5, n == 4 ? R"(,"note":"x","tags":[")" + kTag + R"("])" : "",
                                                  metadata_first)};
        });
        auto r = s.find();
        ASSERT_TRUE(r) << r.error().describe();
        ASSERT_TRUE(r->has_value());
        EXPECT_EQ((*r)->id, "4-99");
        EXPECT_EQ(s.stub.requests().size(), 4u);
        EXPECT_EQ(s.outlined(), 3u);   // pages 1-3 read in outline only, page 4 parsed
    }
}

TEST(TagSearch, ATagSpelledWithEscapesIsFound) {
    // "reanna:" with the 'a' and the ':' escaped: the raw text never holds the tag's bytes.
    Search s([&](const RecordedRequest& q) {
        const int n = page_number(q);
        return ScriptedReply{200, people_page(n, 3, n == 2 ? R"(,"tags":["re\u0061nna\u003ateam_1:buyer:b-7"])" : "")};
    });
    auto r = s.find();
    ASSERT_TRUE(r) << r.error().describe();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->id, "2-99");
    EXPECT_EQ(s.outlined(), 1u);
}

TEST(TagSearch, EscapesElsewhereInAPageDoNotStopItsOutline) {
    // Real pages carry escapes (line breaks in notes, quotes in names): a page is parsed only for the tag itself.
    Search s([&](const RecordedRequest& q) {
        const int n = page_number(q);
        return ScriptedReply{200, people_page(n, 3, n < 3 ? R"(,"note":"a \"quoted\"\nline \u00e9")"
                                                          : R"(,"tags":[")" + kTag + R"("])")};
    });
    auto r = s.find();
    ASSERT_TRUE(r) << r.error().describe();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->id, "3-99");
    EXPECT_EQ(s.outlined(), 2u);
}

TEST(TagSearch, TheTagInsideOtherTextOrAnotherFieldIsNotAMatch) {
    Search s([&](const RecordedRequest& q) {
        const int n = page_number(q);
        const std::string extra = n == 1 ? R"(,"note":"see )" + kTag + R"( later")"
                                  : n == 2 ? R"(,"source":")" + kTag + R"(")"
                                           : R"(,"tags":[")" + kTag + R"(x"])";
        return ScriptedReply{200, people_page(n, 3, extra)};
    });
    auto r = s.find();
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_FALSE(r->has_value());
    EXPECT_EQ(s.stub.requests().size(), 3u);   // every page read, to the end
    EXPECT_EQ(s.outlined(), 2u);   // page 2 holds the tag as a value (of "source"): parsed, and no item matches
}

TEST(TagSearch, SkimmedPagesFailLikeParsedOnes) {
    const std::string truncated = people_page(2, 3).substr(0, 3000);
    Search broken([&](const RecordedRequest& q) {
        return ScriptedReply{200, page_number(q) == 2 ? truncated : people_page(1, 3)};
    });
    auto r = broken.find();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("with a body that is not JSON"), std::string::npos) << r.error().message;

    Search shapeless([](const RecordedRequest&) { return ScriptedReply{200, R"({"_metadata":{"next":"c2"},"n":1})"}; });
    auto s = shapeless.find();
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("has no items array"), std::string::npos) << s.error().message;

    Search trailing([](const RecordedRequest&) { return ScriptedReply{200, R"({"people":[]} {"people":[]})"}; });
    auto t = trailing.find();
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message.find("not JSON"), std::string::npos) << t.error().message;

    Search endless([](const RecordedRequest& q) { return ScriptedReply{200, people_page(page_number(q), 1000)}; }, 4);
    auto e = endless.find();
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message.find("cannot be ruled out; nothing was created"), std::string::npos) << e.error().message;
    EXPECT_EQ(endless.stub.requests().size(), 4u);
}

TEST(TagSearch, AKeyGivenTwiceIsParsedAsBeforeNotGuessed) {
    // Two _metadata objects: the outline stands aside and the parsed reply decides which cursor counts.
    Search s([](const RecordedRequest& q) {
        if (page_number(q) == 1)
            return ScriptedReply{200, R"({"_metadata":{"next":"c9"},"people":[],"_metadata":{"next":"c2"}})"};
        return ScriptedReply{200, R"({"people":[],"_metadata":{"next":null}})"};
    });
    auto r = s.find();
    ASSERT_TRUE(r) << r.error().describe();
    const auto second = s.stub.requests().at(1).target;
    const auto parsed = json::parse(R"({"_metadata":{"next":"c9"},"people":[],"_metadata":{"next":"c2"}})");
    const std::string kept(parsed.at("_metadata").at("next").as_string());
    EXPECT_NE(second.find("next=" + kept), std::string::npos) << second;
}

TEST(PhoneSearch, StopsAtTheFirstMatchLikeTheEmailSearch) {
    // An endless list (a connector ignoring the query): the first person with the number decides, on page 2.
    ScriptedRollout stub([](const RecordedRequest& q) {
        const int n = page_number(q);
        return ScriptedReply{200, people_page(n, 1000, n == 2 ? R"(,"phones":[{"value":"+1 (512) 555-0142"}])" : "")};
    });
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config_for(stub.url()));
    auto r = run_sync(client.find_person_by_phone("c", "5125550142"));
    ASSERT_TRUE(r) << r.error().describe();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->id, "2-99");
    EXPECT_EQ(stub.requests().size(), 2u);
}

// The outline agrees with the parsed reply (items array present, _metadata.next) on random list-shaped replies.
TEST(ListOutline, AgreesWithTheParsedReply) {
    std::mt19937 rng(20261207);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    std::function<json::value(int)> any = [&](int depth) -> json::value {
        switch (pick(depth > 2 ? 4 : 6)) {
            case 0: return nullptr;
            case 1: return pick(2) == 0;
            case 2: return json::string(std::to_string(pick(1000)) + (pick(3) ? "" : "\"\\x"));
            case 3: return pick(100000);
            case 4: {
                json::array a;
                for (int i = pick(3); i > 0; --i) a.push_back(any(depth + 1));
                return a;
            }
            default: {
                json::object o;
                for (int i = pick(3); i > 0; --i) o[pick(2) ? "next" : "people"] = any(depth + 1);
                return o;
            }
        }
    };
    for (int round = 0; round < 3000; ++round) {
        json::value reply;
        if (pick(6) == 0) reply = any(1);
        else {
            json::object o;
            static const char* keys[] = {"_metadata", "people", "collection", "next", "data"};
            for (int i = pick(4); i > 0; --i) o[keys[pick(5)]] = any(1);
            if (pick(2)) {
                json::object md{{"collection", "people"}};
                if (pick(4))
                    md["next"] = pick(3) ? json::value(json::string(std::to_string(pick(50))))
                                         : (pick(3) ? json::value("") : json::value(nullptr));
                o["_metadata"] = pick(8) ? json::value(md) : json::value(json::array{});
            }
            reply = o;
        }
        const std::string text = json::serialize(reply);
        ListOutline outline;
        ASSERT_EQ(read_list_outline(text, "wanted", outline), OutlineRead::outlined) << text;
        bool has_items = reply.is_array();
        std::optional<std::string> next;
        if (const auto* o = reply.if_object()) {
            for (const auto& [k, v] : *o) has_items = has_items || v.is_array();
            if (const auto* md = o->if_contains("_metadata"); md && md->is_object())
                if (const auto* n = md->as_object().if_contains("next"); n && n->is_string() && !n->as_string().empty())
                    next = std::string(n->as_string());
        }
        EXPECT_EQ(outline.has_items, has_items) << text;
        EXPECT_EQ(outline.next, next) << text;
    }
}

TEST(ListOutline, RefusesWhatTheParserRefusesAndStandsAsideOnRepeatedKeys) {
    ListOutline o;
    for (const char* bad : {"", "{", R"({"people":[1,]})", "[] x", "{\"a\":\"\x01\"}", "\xff"})
        EXPECT_EQ(read_list_outline(bad, "t", o), OutlineRead::not_json) << bad;
    std::string deep(40, '[');
    deep += std::string(40, ']');
    EXPECT_EQ(read_list_outline(deep, "t", o), OutlineRead::not_json);   // json::parse's default depth limit
    EXPECT_EQ(read_list_outline(R"({"people":[],"people":{}})", "t", o), OutlineRead::ambiguous);
    EXPECT_EQ(read_list_outline(R"({"_metadata":{"next":"a","next":"b"},"people":[]})", "t", o), OutlineRead::ambiguous);
    EXPECT_EQ(read_list_outline(R"({"people":[{"id":1,"id":2}]})", "t", o), OutlineRead::outlined);  // an item's keys: not ours
    EXPECT_EQ(read_list_outline(" [ ] \n", "t", o), OutlineRead::outlined);
    EXPECT_TRUE(o.has_items);
}

// A hostile CRM's page with 300,000 top-level keys (within the 8 MiB reply cap) is outlined in one pass: every
// key is checked for repeats against a set, not against the keys read before it.
TEST(ListOutline, APageWithVeryManyKeysIsOutlinedAndARepeatAmongThemIsFound) {
    std::string page = R"({"people":[])";
    for (int i = 0; i < 300000; ++i) page += ",\"k" + std::to_string(i) + "\":0";
    ListOutline o;
    EXPECT_EQ(read_list_outline(page + "}", "t", o), OutlineRead::outlined);
    EXPECT_TRUE(o.has_items);
    EXPECT_EQ(read_list_outline(page + R"(,"k123456":1})", "t", o), OutlineRead::ambiguous);
}

TEST(ListOutline, HoldsOnlyAStringValueEqualToTheWantedOneHoweverItIsSpelled) {
    ListOutline o;
    const std::string tag = "reanna:t1:buyer:buyer-1";
    EXPECT_EQ(read_list_outline(R"({"people":[{"tags":["reanna:t1:buyer:buyer-1"]}]})", tag, o), OutlineRead::holds);
    EXPECT_EQ(read_list_outline(R"({"people":[{"tags":["re\u0061nna\u003at1:buyer:buyer-1"]}]})", tag, o), OutlineRead::holds);
    EXPECT_EQ(read_list_outline(R"({"people":[{"tags":["reanna:t1:buyer:buyer-12","xreanna:t1:buyer:buyer-1"]}]})", tag, o),
              OutlineRead::outlined);
    EXPECT_EQ(read_list_outline(R"({"people":[{"note":"see reanna:t1:buyer:buyer-1"}]})", tag, o), OutlineRead::outlined);
    EXPECT_EQ(read_list_outline(R"({"people":[{"reanna:t1:buyer:buyer-1":0}]})", tag, o), OutlineRead::outlined);  // a key
    EXPECT_EQ(read_list_outline(R"({"people":[{"tags":["reanna:t1:buyer:buyer-"]}]})", tag, o), OutlineRead::outlined);
    // A cursor equal to the wanted text is a string value too: the page is parsed, never wrongly outlined.
    EXPECT_EQ(read_list_outline(R"({"_metadata":{"next":"reanna:t1:buyer:buyer-1"},"people":[]})", tag, o),
              OutlineRead::holds);
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
