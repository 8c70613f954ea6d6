// Paging with bounded memory: look-ups go page by page and stop at the first match, list_for_person keeps
// only matches, and plain lists fail past ClientConfig::max_list_bytes instead of growing without bound.
#include "rollout/client.hpp"
#include "test_support.hpp"

namespace rollout_mcp::rollout::test {
namespace {

// Page n (1-based) of an endless people list: ids "<n>a", "<n>b", tags ["t<n>"], personId "p<n % 2>".
ScriptedReply page_reply(const RecordedRequest& q) {
    int n = 1;
    if (auto at = q.target.find("next=c"); at != std::string::npos) n = std::stoi(q.target.substr(at + 6));
    const std::string s = std::to_string(n);
    const std::string person = "p" + std::to_string(n % 2);
    return ScriptedReply{200, R"({"_metadata":{"collection":"people","next":"c)" + std::to_string(n + 1) +
                              R"("},"people":[{"id":")" + s + R"(a","tags":["t)" + s + R"("],"personId":")" + person +
                              R"("},{"id":")" + s + R"(b","emails":[{"value":"B)" + s + R"(@x.io"}]}]})"};
}

TEST(Paging, LookupsStopAtTheFirstMatch) {
    ScriptedRollout stub(page_reply);
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config_for(stub.url()));
    auto tagged = run_sync(client.find_person_by_tag("c", "t3"));
    ASSERT_TRUE(tagged) << tagged.error().describe();
    ASSERT_TRUE(tagged->has_value());
    EXPECT_EQ((*tagged)->id, "3a");
    EXPECT_EQ(stub.requests().size(), 3u);  // pages 1..3, not up to max_search_pages
    auto mailed = run_sync(client.find_person_by_email("c", "b5@X.io"));
    ASSERT_TRUE(mailed) << mailed.error().describe();
    ASSERT_TRUE(mailed->has_value());
    EXPECT_EQ((*mailed)->id, "5b");
    EXPECT_EQ(stub.requests().size(), 3u + 5u);
}

TEST(Paging, ListForPersonKeepsOnlyMatchesAndStillFailsPastTheSearchCap) {
    ScriptedRollout stub([](const RecordedRequest& q) {
        if (q.target.find("next=c4") != std::string::npos)
            return ScriptedReply{200, R"({"_metadata":{"collection":"notes"},"notes":[{"id":"4a","personId":"p0"}]})"};
        return page_reply(q);
    });
    auto config = config_for(stub.url());
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config);
    auto mine = run_sync(client.list_for_person("c", "notes", "p1"));
    ASSERT_TRUE(mine) << mine.error().describe();
    ASSERT_EQ(mine->size(), 2u);  // pages 1 and 3
    EXPECT_EQ(id_of(mine->at(0).at("id")), "1a");
    EXPECT_EQ(id_of(mine->at(1).at("id")), "3a");

    ScriptedRollout endless(page_reply);
    auto capped = config_for(endless.url());
    capped.max_search_pages = 4;
    RolloutClient cut(HttpPool::create(fast_options({endless.url()})), capped);
    auto r = run_sync(cut.list_for_person("c", "notes", "p1"));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("cannot be ruled out; nothing was created"), std::string::npos) << r.error().message;
    EXPECT_EQ(endless.requests().size(), 4u);
}

TEST(Paging, PlainListsAreCappedInBytes) {
    ScriptedRollout stub(page_reply);
    auto config = config_for(stub.url());
    config.max_pages = 50;
    const std::size_t page_bytes = page_reply(RecordedRequest{}).body.size();
    config.max_list_bytes = page_bytes * 3;  // three pages fit, the fourth does not
    RolloutClient client(HttpPool::create(fast_options({stub.url()})), config);
    auto r = run_sync(client.list_users("c"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorKind::permanent);
    EXPECT_NE(r.error().message.find("larger than max_list_bytes"), std::string::npos) << r.error().message;
    EXPECT_LE(stub.requests().size(), 5u);

    config.max_pages = 3;
    RolloutClient fits(HttpPool::create(fast_options({stub.url()})), config);
    auto ok = run_sync(fits.list_users("c"));
    ASSERT_TRUE(ok) << ok.error().describe();
    EXPECT_EQ(ok->size(), 6u);
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
