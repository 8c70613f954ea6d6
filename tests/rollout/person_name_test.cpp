// The buyer's name as CRMs receive it: trimmed, split at the first run of spaces, and a name of only spaces
// (or an empty one) keeps the placeholder. A name with outer spaces used to throw std::out_of_range inside
// person_body, which failed the job permanently in every CRM.
#include "rollout/adapters/adapter.hpp"

#include <gtest/gtest.h>

namespace rollout_mcp::rollout {
namespace {

std::pair<std::string, std::string> names_for(const std::optional<std::string>& name) {
    Tour t;
    t.tour_id = "T1";
    t.buyer_id = "B1";
    t.buyer = Buyer{};
    t.buyer->name = name;
    for (const auto& crm : {"highlevel", "lofty", "follow-up-boss", "hubspot"}) {
        auto adapter = make_adapter(crm);
        EXPECT_NO_THROW((void)adapter->person_body(t)) << crm << " with name '" << name.value_or("(none)") << "'";
    }
    const auto body = make_adapter("highlevel")->person_body(t);
    return {std::string(body.at("firstName").as_string()), std::string(body.at("lastName").as_string())};
}

TEST(PersonName, IsTrimmedAndSplitAtTheFirstSpaceRun) {
    EXPECT_EQ(names_for("Ann Lee"), (std::pair<std::string, std::string>{"Ann", "Lee"}));
    EXPECT_EQ(names_for("  Ann Lee  "), (std::pair<std::string, std::string>{"Ann", "Lee"}));
    EXPECT_EQ(names_for("Ann   van  Dyke "), (std::pair<std::string, std::string>{"Ann", "van  Dyke"}));
    EXPECT_EQ(names_for(" Cher"), (std::pair<std::string, std::string>{"Cher", "-"}));
    EXPECT_EQ(names_for("Cher "), (std::pair<std::string, std::string>{"Cher", "-"}));
    EXPECT_EQ(names_for("\tAnn\tLee\t"), (std::pair<std::string, std::string>{"Ann", "Lee"}));
}

TEST(PersonName, BlankNamesTakeThePlaceholder) {
    for (const std::optional<std::string>& blank : {std::optional<std::string>{"   "}, std::optional<std::string>{" "},
                                                     std::optional<std::string>{""}, std::optional<std::string>{}}) {
        const auto [first, last] = names_for(blank);
        EXPECT_EQ(first, "REanna Buyer") << "'" << blank.value_or("(none)") << "'";
        EXPECT_EQ(last, "B1");
    }
}

}  // namespace
}  // namespace rollout_mcp::rollout
