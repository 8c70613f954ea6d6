// Helpers shared by the adapter flows (adapter_support.hpp).
#include "adapter_support.hpp"

#include <algorithm>
#include <cctype>

namespace rollout_mcp::rollout::detail {
namespace asio = boost::asio;
namespace json = boost::json;


bool has_tag(const json::object& person, const std::string& tag) {
    const auto* tags = person.if_contains("tags");
    if (!tags || !tags->is_array()) return false;
    return std::any_of(tags->as_array().begin(), tags->as_array().end(),
                       [&](const json::value& t) { return t.is_string() && t.as_string() == tag; });
}

bool text_contains(const json::object& o, const std::string& marker) {
    static constexpr const char* fields[] = {"description", "name", "title", "body", "subject"};
    for (const char* f : fields)
        if (const auto* v = o.if_contains(f); v && v->is_string() &&
                                              std::string_view(v->as_string()).find(marker) != std::string_view::npos)
            return true;
    return false;
}

std::string known_id(const SyncTarget& target, std::string_view kind, std::string_view local_id) {
    auto it = target.known.find(known_key(kind, local_id));
    return it == target.known.end() ? std::string() : it->second;
}

std::vector<std::string> drop_crm_edits(const SyncTarget& target, std::string_view kind, std::string_view local_id,
                                        json::object& body) {
    std::vector<std::string> dropped;
    const auto it = target.states.find(known_key(kind, local_id));
    if (it == target.states.end()) return dropped;
    const auto& [written_state, crm_state] = it->second;
    for (auto& field : fields_changed_in_crm(kind, written_state, crm_state))
        if (body.erase(field) > 0) dropped.push_back(std::move(field));
    return dropped;
}

bool legacy_accepted(const SyncTarget& target, std::string_view kind, const std::string& id) {
    if (!target.legacy_markers) return false;
    if (target.accept_legacy_markers) return true;
    // Only a ledger row of the record's own kind: ids of other kinds (a type, a buyer id) may be equal by chance.
    const std::string prefix = known_key(kind, "");
    return !id.empty() && std::any_of(target.known.begin(), target.known.end(), [&](const auto& kv) {
               return kv.second == id && kv.first.compare(0, prefix.size(), prefix) == 0;
           });
}

std::string find_marked(const std::vector<json::object>& items, std::string_view kind, const std::string& marker,
                        const std::string& legacy, const SyncTarget& target) {
    for (const auto& item : items)
        if (text_contains(item, marker)) return id_of(item.at("id"));
    if (legacy == marker) return {};
    for (const auto& item : items)
        if (text_contains(item, legacy) && legacy_accepted(target, kind, id_of(item.at("id")))) return id_of(item.at("id"));
    return {};
}

asio::awaitable<Result<std::optional<Record>>> find_buyer_by_marker(RolloutClient& client, const SyncTarget& target,
                                                                    const CrmAdapter& adapter,
                                                                    const std::string& buyer_local) {
    const std::string tag = adapter.buyer_tag(buyer_local), legacy = CrmAdapter::legacy_buyer_tag(buyer_local);
    auto r = co_await client.find_person_by_tag(target.credential_id, tag);
    if (!r || r.value() || legacy == tag || !target.legacy_markers) co_return r;
    auto old = co_await client.find_person_by_tag(target.credential_id, legacy);
    if (!old || !old.value()) co_return old;
    if (legacy_accepted(target, "person", old.value()->id)) co_return old;
    co_return std::optional<Record>{};
}

std::optional<Error> created_without_id(const Record& created, std::string_view kind) {
    if (!created.id.empty()) return std::nullopt;
    return Error{ErrorKind::permanent, 0, "Rollout created a " + std::string(kind) + " without an id", true};
}

}  // namespace rollout_mcp::rollout::detail
