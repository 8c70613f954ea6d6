// The pure parts of processing a Rollout webhook delivery (see hook_mapping.hpp).
#include "server/sync/hook_mapping.hpp"

#include <boost/json/parse.hpp>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>

namespace rollout_mcp::hook_mapping {
namespace json = boost::json;

std::optional<EntityEvent> entity_event(std::string_view event) {
    static constexpr std::array<std::array<std::string_view, 3>, 4> kEntities{{{"people", "person", "people"},
                                                                               {"appointments", "appointment", "appointments"},
                                                                               {"tasks", "task", "tasks"},
                                                                               {"notes", "note", "notes"}}};
    for (const auto& [prefix, kind, collection] : kEntities) {
        if (event.substr(0, prefix.size()) != prefix) continue;
        const auto rest = event.substr(prefix.size());
        if (rest == "Created") return EntityEvent{kind, collection, Action::created};
        if (rest == "Updated") return EntityEvent{kind, collection, Action::updated};
        if (rest == "Deleted") return EntityEvent{kind, collection, Action::deleted};
    }
    return std::nullopt;
}

std::vector<std::string> resource_ids(std::string_view json_text) {
    std::vector<std::string> out;
    boost::system::error_code ec;
    const auto v = json::parse(json_text, ec);
    if (ec || !v.is_array()) return out;
    std::set<std::string> seen;
    for (const auto& item : v.get_array()) {
        std::string id;
        if (item.is_string()) id = std::string(item.get_string());
        else if (item.is_int64()) id = std::to_string(item.get_int64());
        else if (item.is_uint64()) id = std::to_string(item.get_uint64());
        if (!id.empty() && id.size() <= 200 && seen.insert(id).second) out.push_back(std::move(id));
    }
    return out;
}

std::string credential_ref(const std::vector<unsigned char>& fingerprint) {
    const std::size_t n = std::min<std::size_t>(fingerprint.size(), 6);
    std::string hex(2 * n + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), fingerprint.data(), n);
    hex.pop_back();
    return "cred_" + hex;
}

void place(storage::CrmChange& c, std::string_view kind, const std::string& local_id) {
    if (kind == "person") {
        if (local_id.rfind("tour-", 0) == 0) c.tour_id = local_id.substr(5);
        else c.buyer_id = local_id;
        return;
    }
    c.visit_id = local_id;
    c.tour_id = local_id.substr(0, local_id.find('/'));
}

std::vector<KnownRecord> group_by_record(const std::vector<storage::LedgerEntry>& entries) {
    std::vector<KnownRecord> out;
    std::map<std::string, std::size_t> at;
    for (const auto& e : entries) {
        auto [it, fresh] = at.try_emplace(e.external_id, out.size());
        if (fresh) out.push_back({e.external_id, e.local_id, e.crm_state, {}});
        auto& r = out[it->second];
        r.rows.push_back(e);
        // A buyer's row wins over a tour's placeholder row for the same person.
        if (r.local_id.rfind("tour-", 0) == 0 && e.local_id.rfind("tour-", 0) != 0) {
            r.local_id = e.local_id;
            r.state = e.crm_state;
        }
    }
    return out;
}

std::string scrub(std::string text, std::initializer_list<std::string_view> secrets) {
    for (auto secret : secrets) {
        if (secret.empty()) continue;
        for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
            text.replace(pos, secret.size(), "[redacted]");
    }
    return text;
}

std::string utf8_prefix(std::string_view text, std::size_t max) {
    if (text.size() <= max) return std::string(text);
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;   // not inside a sequence
    return std::string(text.substr(0, end));
}

}  // namespace rollout_mcp::hook_mapping
