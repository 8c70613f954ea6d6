// Follow Up Boss (appKey "follow-up-boss") through Rollout: UTC Z times (FUB ignores offsets), appointment
// invitees for the buyer and the agent, notes with subject + body.
#include "adapter.hpp"

namespace rollout_mcp::rollout {
namespace json = boost::json;

namespace {

class FollowUpBossAdapter final : public CrmAdapter {
public:
    explicit FollowUpBossAdapter(AdapterOptions o) : CrmAdapter("follow-up-boss", std::move(o)) {}

    json::object appointment_body(const Tour& tour, const PropertyVisit& visit, const std::string& person_id,
                                  const std::string& type_id,
                                  const std::optional<std::string>& user_id) const override {
        json::object a = CrmAdapter::appointment_body(tour, visit, person_id, type_id, user_id);
        json::array invitees{json::object{{"personId", person_id}}};
        if (user_id) invitees.push_back(json::object{{"userId", *user_id}});
        a["invitees"] = std::move(invitees);
        return a;
    }
};

}  // namespace

std::unique_ptr<CrmAdapter> make_follow_up_boss_adapter(AdapterOptions options) {
    return std::make_unique<FollowUpBossAdapter>(std::move(options));
}

}  // namespace rollout_mcp::rollout
