// Default (Rollout-normalised, Follow-Up-Boss-shaped) bodies used by every adapter unless it overrides
// them, and the generic adapter for Rollout CRM connectors without special handling (UTC Z times).
#include "adapter.hpp"

#include <cmath>
#include <cstdio>

namespace rollout_mcp::rollout {
namespace json = boost::json;

std::string CrmAdapter::format_time(const Timestamp& t) const {
    return time_style() == TimeStyle::utc ? t.utc_iso() : t.local_iso();
}

namespace {
std::string marker_prefix(const AdapterOptions& o) { return o.team.empty() ? "reanna:" : "reanna:" + o.team + ":"; }
}  // namespace

std::string CrmAdapter::buyer_tag(std::string_view buyer_local_id) const {
    return marker_prefix(options_) + "buyer:" + std::string(buyer_local_id);
}
std::string CrmAdapter::visit_marker(const Tour& tour, const PropertyVisit& visit) const {
    return "[" + marker_prefix(options_) + "visit:" + visit_local_id(tour.tour_id, visit.property_id) + "]";
}
std::string CrmAdapter::feedback_marker(const Feedback& f) const {
    return "[" + marker_prefix(options_) + "feedback:" + feedback_local_id(f) + "]";
}
std::string CrmAdapter::legacy_buyer_tag(std::string_view buyer_local_id) {
    return "reanna:buyer:" + std::string(buyer_local_id);
}
std::string CrmAdapter::legacy_visit_marker(const Tour& tour, const PropertyVisit& visit) {
    return "[reanna:visit:" + visit_local_id(tour.tour_id, visit.property_id) + "]";
}
std::string CrmAdapter::legacy_feedback_marker(const Feedback& f) {
    return "[reanna:feedback:" + feedback_local_id(f) + "]";
}

namespace {
// "Dec 5, 1420 Maple Ave": the first visit's local date and address, so an agent recognizes the tour.
std::string tour_label(const Tour& tour) {
    if (tour.properties.empty()) return tour.tour_id;
    const PropertyVisit* first = &tour.properties.front();
    for (const auto& v : tour.properties)
        if (v.visit_time.utc_seconds < first->visit_time.utc_seconds) first = &v;
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::string local = format_iso(first->visit_time.utc_seconds, first->visit_time.offset_minutes);
    const int month = std::stoi(local.substr(5, 2)), day = std::stoi(local.substr(8, 2));
    return std::string(months[month - 1]) + " " + std::to_string(day) + ", " + first->address;
}
}  // namespace

json::object CrmAdapter::person_body(const Tour& tour) const {
    json::object p;
    const std::string local = buyer_local_id(tour.buyer_id, tour.tour_id);
    // Without a buyer the person is the tour's placeholder: "Buyer — tour Dec 5, 1420 Maple Ave".
    std::string first = tour.buyer_id ? "REanna Buyer" : "Buyer";
    std::string last = tour.buyer_id ? local : "\u2014 tour " + tour_label(tour);
    if (tour.buyer && tour.buyer->name) {
        // Trimmed and split at the first run of spaces; a name of only spaces keeps the placeholder.
        const std::string& n = *tour.buyer->name;
        const auto start = n.find_first_not_of(" \t");
        if (start != std::string::npos) {
            const auto end = n.find_last_not_of(" \t") + 1;
            const std::string name = n.substr(start, end - start);
            const auto space = name.find_first_of(" \t");
            if (space == std::string::npos) {
                first = name;
                last = "-";
            } else {
                first = name.substr(0, space);
                last = name.substr(name.find_first_not_of(" \t", space));
            }
        }
    }
    p["firstName"] = first;
    p["lastName"] = last;
    if (tour.buyer && tour.buyer->email)
        p["emails"] = json::array{json::object{{"value", *tour.buyer->email}, {"type", "personal"}, {"isPrimary", true}}};
    if (tour.buyer && tour.buyer->phone)
        p["phones"] = json::array{json::object{{"value", *tour.buyer->phone}, {"type", "mobile"}, {"isPrimary", true}}};
    p["tags"] = json::array{"reanna", buyer_tag(local)};
    p["source"] = "REanna Router";
    return p;
}

std::string CrmAdapter::visit_description(const Tour& tour, const PropertyVisit& visit) const {
    std::string d = "Property " + visit.property_id + ": " + visit.address + "\nTour " + tour.tour_id + " (agent " +
                    tour.agent_id + ")\n";
    if (tour.time_zone) d += "Time zone: " + *tour.time_zone + "\n";
    if (visit.notes) d += "Notes: " + *visit.notes + "\n";
    return d + visit_marker(tour, visit);
}

json::object CrmAdapter::appointment_body(const Tour& tour, const PropertyVisit& visit, const std::string& person_id,
                                          const std::string& type_id,
                                          const std::optional<std::string>& user_id) const {
    json::object a;
    a["personId"] = person_id;
    a["appointmentTypeId"] = type_id;
    a["title"] = "Showing: " + visit.address;
    a["location"] = visit.address;
    a["description"] = visit_description(tour, visit);
    a["startsAt"] = format_time(visit.visit_time);
    a["endsAt"] = format_time(visit.visit_time.plus_minutes(visit.duration_minutes.value_or(options().default_duration_minutes)));
    a["isAllDay"] = false;
    if (user_id) a["userId"] = *user_id;
    return a;
}

json::object CrmAdapter::task_body(const Tour& tour, const PropertyVisit& visit, const std::string& person_id,
                                   const std::optional<std::string>& user_id) const {
    json::object t;
    t["personId"] = person_id;
    t["name"] = "Showing: " + visit.address + " " + visit_marker(tour, visit);
    t["type"] = "Appointment";
    t["dueDateTime"] = visit.visit_time.utc_iso();  // Rollout/FUB ignore offsets on dueDateTime
    t["isCompleted"] = false;
    if (user_id) t["assignedUserId"] = *user_id;
    return t;
}

json::object CrmAdapter::note_body(const Feedback& f, const std::string& person_id) const {
    const std::string subject = "Showing feedback: " + (f.address ? *f.address : "property " + f.property_id);
    std::string body = "Buyer feedback on property " + f.property_id + (f.address ? " (" + *f.address + ")" : "") +
                       " from tour " + f.tour_id + (f.timestamp ? " at " + f.timestamp->local_iso() : "") + ":\n" +
                       f.feedback + "\n";
    if (f.rating) {
        char buf[32];
        if (*f.rating == std::floor(*f.rating)) std::snprintf(buf, sizeof buf, "%d", static_cast<int>(*f.rating));
        else std::snprintf(buf, sizeof buf, "%.1f", *f.rating);
        body += std::string("Rating: ") + buf + "/5\n";
    }
    if (f.interest_level) body += "Interest level: " + *f.interest_level + "\n";
    body += feedback_marker(f);
    json::object n;
    n["personId"] = person_id;
    if (note_subject()) {
        n["subject"] = subject;
        n["body"] = body;
    } else {
        n["body"] = subject + "\n" + body;
    }
    n["isHtml"] = false;
    return n;
}

namespace {
class GenericAdapter final : public CrmAdapter {
public:
    using CrmAdapter::CrmAdapter;
};
}  // namespace

std::unique_ptr<CrmAdapter> make_generic_adapter(std::string crm_type, AdapterOptions options) {
    return std::make_unique<GenericAdapter>(std::move(crm_type), std::move(options));
}

}  // namespace rollout_mcp::rollout
