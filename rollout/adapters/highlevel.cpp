// GoHighLevel (appKey "highlevel") through Rollout: appointments in the visit's own UTC offset (GHL
// calendars work in local wall time), E.164 phones, notes with a body only (GHL notes have no subject).
#include "adapter.hpp"

#include <cctype>

namespace rollout_mcp::rollout {
namespace json = boost::json;

namespace {

std::string e164ish(const std::string& phone) {
    std::string out;
    for (char c : phone)
        if (std::isdigit(static_cast<unsigned char>(c)) || (c == '+' && out.empty())) out += c;
    if (!out.empty() && out[0] != '+' && out.size() == 10) out = "+1" + out;  // North American 10-digit number
    return out;
}

class HighLevelAdapter final : public CrmAdapter {
public:
    explicit HighLevelAdapter(AdapterOptions o) : CrmAdapter("highlevel", std::move(o)) {}
    TimeStyle time_style() const override { return TimeStyle::local_offset; }
    bool note_subject() const override { return false; }

    json::object person_body(const Tour& tour) const override {
        json::object p = CrmAdapter::person_body(tour);
        if (auto* phones = p.if_contains("phones"))
            for (auto& ph : phones->as_array()) ph.as_object()["value"] = e164ish(*tour.buyer->phone);
        return p;
    }
};

}  // namespace

std::unique_ptr<CrmAdapter> make_highlevel_adapter(AdapterOptions options) {
    return std::make_unique<HighLevelAdapter>(std::move(options));
}

}  // namespace rollout_mcp::rollout
