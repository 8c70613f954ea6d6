// Markers name the team, so two teams sharing one CRM account never link each other's records. A team-less
// marker written before ("reanna:buyer:<id>") is adopted only when no other team on this server stored the
// same CRM credential (compared by fingerprint); otherwise the team makes its own record. A team created after
// markers named the team (tenants.legacy_markers 0) never wrote one: it neither searches for nor adopts them.
// Against the fake.
#include "sync_harness.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
namespace json = boost::json;
using storage::JobStatus;

std::span<const unsigned char> bytes(const std::string& s) {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

class TeamMarkers : public ::testing::Test {
protected:
    json::object tour(const std::string& id, const std::string& buyer) {
        return json::object{{"tourId", id}, {"agentId", "a"}, {"buyerId", buyer},
                            {"properties", json::array{json::object{{"propertyId", "P1"}, {"address", "1 Main St"},
                                                                    {"visitTime", "2026-12-05T10:00:00-06:00"}}}}};
    }
    void synced(const std::string& team, const json::object& t) {
        auto ids = h.enqueue_tour(team, t);
        auto j = h.wait_finished(team, ids.at(0));
        ASSERT_EQ(j.status, JobStatus::succeeded) << j.last_error;
    }
    // Team `other` uses `owner`'s Rollout account and highlevel credential (a pre-minted token of that sub).
    std::string sharing_team(const std::string& owner) {
        const auto other = h.add_team("sharing", {});
        RolloutSettings settings;
        settings.project_env_key = "shared";
        settings.endpoints.platform = h.fake().platform_url();
        settings.endpoints.crm = h.fake().crm_url();
        settings.endpoints.automation = h.fake().automation_url();
        const std::string text = json::serialize(settings.to_json()), token = h.fake().mint_jwt(owner);
        const std::string cred = h.credential(owner, "highlevel");
        auto put = h.on_storage([&](storage::Storage& s) {
            if (auto r = s.put_rollout_config(other, text, bytes(token)); !r) return r;
            return s.put_crm_connection(other, "highlevel", "shared", bytes(cred));
        });
        EXPECT_TRUE(put) << put.error().message;
        return other;
    }
    json::object legacy_person(const std::string& team, const std::string& buyer) {
        return h.fake().put_record(h.credential(team, "highlevel"), "people",
                                   json::object{{"firstName", "Old"}, {"lastName", "Record"},
                                                {"tags", json::array{"reanna", "reanna:buyer:" + buyer}}});
    }
    std::vector<json::object> people(const std::string& team) { return h.fake().records(h.credential(team, "highlevel"), "people"); }
    // The team existed before markers named the team (as SQLite migration 15 marks every team it finds).
    void from_before_team_markers(const std::string& team) {
        h.database().raw()->exec(("UPDATE tenants SET legacy_markers = 1 WHERE id = '" + team + "'").c_str());
    }
    // Rollout look-ups of people by this tag.
    int tag_searches(const std::string& tag) {
        int n = 0;
        for (const auto& r : h.fake().requests())
            n += r.method == "GET" && r.path == "/crm/api/people" && r.query.find("tags=" + tag) != std::string::npos;
        return n;
    }

    Harness h;
};

TEST_F(TeamMarkers, ALegacyMarkerIsAdoptedWhenNoOtherTeamSharesTheCredential) {
    const auto a = h.add_team("alone");
    from_before_team_markers(a);
    legacy_person(a, "B-1");
    h.start();
    synced(a, tour("T1", "B-1"));
    auto all = people(a);
    ASSERT_EQ(all.size(), 1u) << "the legacy record was adopted";
    bool tagged = false;
    for (const auto& t : all[0].at("tags").as_array()) tagged = tagged || t.as_string() == "reanna:" + a + ":buyer:B-1";
    EXPECT_TRUE(tagged) << "it now carries the team's marker too";
    EXPECT_EQ(h.fake().records(h.credential(a, "highlevel"), "appointments")[0].at("personId"), all[0].at("id"));
}

TEST_F(TeamMarkers, TwoTeamsOnOneCrmAccountNeverLinkEachOthersRecords) {
    const auto a = h.add_team("first");
    const auto b = sharing_team(a);
    from_before_team_markers(a);
    from_before_team_markers(b);
    legacy_person(a, "B-2");
    h.start();
    synced(a, tour("TA", "B-2"));   // the credential is shared: the legacy record is not taken as team A's
    synced(b, tour("TB", "B-2"));   // the same buyer id in team B: its own record
    auto all = people(a);
    ASSERT_EQ(all.size(), 3u) << json::serialize(json::value_from(all));
    std::size_t a_tagged = 0, b_tagged = 0;
    for (const auto& p : all)
        for (const auto& t : p.at("tags").as_array()) {
            a_tagged += t.as_string() == "reanna:" + a + ":buyer:B-2";
            b_tagged += t.as_string() == "reanna:" + b + ":buyer:B-2";
        }
    EXPECT_EQ(a_tagged, 1u);
    EXPECT_EQ(b_tagged, 1u);
    // Repeats find each team's own record: nothing new.
    synced(a, tour("TA2", "B-2"));
    synced(b, tour("TB2", "B-2"));
    EXPECT_EQ(people(a).size(), 3u);
}

TEST_F(TeamMarkers, ATeamCreatedSinceNeverSearchesForNorAdoptsALegacyMarker) {
    const auto a = h.add_team("new");
    auto got = h.on_storage([&](storage::Storage& s) { return s.get_team_config(a); });
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_FALSE(got->legacy_markers) << "a team created now never wrote a team-less marker";
    const auto old = legacy_person(a, "B-3");   // some older team's record in the same CRM account
    h.start();
    synced(a, tour("T3", "B-3"));
    EXPECT_EQ(tag_searches("reanna%3Abuyer%3AB-3") + tag_searches("reanna:buyer:B-3"), 0)
        << "one Rollout call per new buyer saved";
    EXPECT_GE(tag_searches("reanna%3A" + a + "%3Abuyer%3AB-3") + tag_searches("reanna:" + a + ":buyer:B-3"), 1);
    auto all = people(a);
    ASSERT_EQ(all.size(), 2u) << "the team-less record is not taken as this team's";
    EXPECT_NE(h.fake().records(h.credential(a, "highlevel"), "appointments")[0].at("personId"), old.at("id"));

    // The same team marked as from before (a trigger raises the team's configuration version, so the worker's
    // cached copy is read again): the next new buyer's search includes the team-less tag.
    from_before_team_markers(a);
    legacy_person(a, "B-4");
    synced(a, tour("T4", "B-4"));
    EXPECT_EQ(people(a).size(), 3u) << "B-4's team-less record was adopted";
}

}  // namespace
}  // namespace rollout_mcp::sync_test
