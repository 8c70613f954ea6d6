// Lofty (appKey "lofty", formerly Chime) through Rollout: buyers typed as Buyer leads, digits-only phones,
// visits as appointments in the visit's local offset, notes with a body only (Lofty notes have content only).
#include "adapter.hpp"

#include <cctype>

namespace rollout_mcp::rollout {
namespace json = boost::json;

namespace {

class LoftyAdapter final : public CrmAdapter {
public:
    explicit LoftyAdapter(AdapterOptions o) : CrmAdapter("lofty", std::move(o)) {}
    TimeStyle time_style() const override { return TimeStyle::local_offset; }
    bool note_subject() const override { return false; }

    json::object person_body(const Tour& tour) const override {
        json::object p = CrmAdapter::person_body(tour);
        if (auto* phones = p.if_contains("phones"))
            for (auto& ph : phones->as_array()) {
                std::string digits;
                for (char c : *tour.buyer->phone)
                    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
                ph.as_object()["value"] = digits;
            }
        p["contactTypes"] = json::array{"Buyer"};
        return p;
    }
};

}  // namespace

std::unique_ptr<CrmAdapter> make_lofty_adapter(AdapterOptions options) {
    return std::make_unique<LoftyAdapter>(std::move(options));
}

}  // namespace rollout_mcp::rollout
