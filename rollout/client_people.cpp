// Finding CRM records: a person by email, phone or our marker tag, the look-ups that keep one buyer one contact
// (docs/ARCHITECTURE.md, "Buyer identity"; each filters the replies itself: a connector may ignore the query),
// and any watched record by id, which is how a webhook's resourceIds are read back (README, "Changes from the CRM").
#include "client.hpp"
#include "limits.hpp"
#include "base/ascii.hpp"

#include <algorithm>
#include <array>

namespace rollout_mcp::rollout {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// The last ten digits: "+1 (512) 555-0100", "5125550100" and "+15125550100" are one number.
std::string phone_key(std::string_view phone) {
    std::string digits;
    for (char c : phone)
        if (c >= '0' && c <= '9') digits += c;
    return digits.size() > 10 ? digits.substr(digits.size() - 10) : digits;
}

}  // namespace

asio::awaitable<Result<std::optional<Record>>> RolloutClient::first_person_with(std::string cred, std::string path,
                                                                                const char* list, TextTest wanted) {
    std::optional<Record> found;
    ItemVisitor match = [&found, list, &wanted](json::object& p) {
        const auto* entries = p.if_contains(list);
        if (!entries || !entries->is_array()) return false;
        for (const auto& e : entries->as_array())
            if (e.is_object())
                if (const auto* val = e.as_object().if_contains("value");
                    val && val->is_string() && wanted(std::string_view(val->get_string().data(), val->get_string().size()))) {
                    found = Record{id_of(p["id"]), std::move(p)};
                    return true;
                }
        return false;
    };
    auto done = co_await for_each_item(cred, path, true, match);
    if (!done) co_return std::move(done).error();
    co_return found;
}

asio::awaitable<Result<std::optional<Record>>> RolloutClient::find_person_by_email(std::string cred,
                                                                                  std::string email) {
    const std::string want = ascii_lower(email);
    const TextTest same = [&want](std::string_view v) { return ascii_lower(v) == want; };
    const std::string path = "/people?email=" + url_encode(email) + "&limit=100";
    co_return co_await first_person_with(cred, path, "emails", same);
}

asio::awaitable<Result<std::optional<Record>>> RolloutClient::find_person_by_phone(std::string cred,
                                                                                  std::string phone) {
    const std::string want = phone_key(phone);
    if (want.size() < 7) co_return std::optional<Record>{};   // too short to identify anyone
    const TextTest same = [&want](std::string_view v) { return phone_key(v) == want; };
    // The first match decides (buyer_contact.cpp find_by_details), so paging stops there, like the email search.
    const std::string path = "/people?phone=" + url_encode(want) + "&limit=100";
    co_return co_await first_person_with(cred, path, "phones", same);
}

asio::awaitable<Result<std::optional<Record>>> RolloutClient::find_person_by_tag(std::string cred, std::string tag) {
    std::optional<Record> found;
    ItemVisitor match = [&](json::object& p) {
        const auto* tags = p.if_contains("tags");
        if (!tags || !tags->is_array()) return false;
        for (const auto& t : tags->as_array())
            if (t.is_string() && t.as_string() == tag) {
                found = Record{id_of(p["id"]), std::move(p)};
                return true;
            }
        return false;
    };
    // Rollout cannot filter people by tag: the search pages through the CRM's people, parsing only pages that
    // hold the tag.
    const std::string path = "/people?tags=" + url_encode(tag) + "&limit=100";
    auto done = co_await for_each_item(cred, path, true, match, tag);
    if (!done) co_return std::move(done).error();
    co_return found;
}

namespace {
// The collections a webhook names records of (rollout-api.md section 4.1: <entity>Created / Updated / Deleted).
constexpr std::array<std::string_view, 4> kRecordCollections = {"people", "appointments", "tasks", "notes"};
constexpr std::size_t kMaxRecordIdCharacters = 200;

// An id from a webhook is the sender's text: it becomes one percent-encoded path segment, never more, and an id
// no CRM would issue (empty, overlong, with control bytes) is not sent at all.
bool plausible_record_id(std::string_view id) {
    if (id.empty() || limits::text_length(id) > kMaxRecordIdCharacters) return false;
    return std::none_of(id.begin(), id.end(), [](unsigned char c) { return c < 0x20 || c == 0x7F; });
}
}  // namespace

asio::awaitable<Result<std::optional<Record>>> RolloutClient::get_crm_record(std::string cred,
                                                                            std::string_view collection,
                                                                            std::string id) {
    const auto known = std::find(kRecordCollections.begin(), kRecordCollections.end(), collection);
    if (known == kRecordCollections.end())
        co_return invalid_argument("a CRM record is read from people, appointments, tasks or notes");
    if (!plausible_record_id(id))
        co_return invalid_argument("a CRM record id is 1 to " + std::to_string(kMaxRecordIdCharacters) +
                                   " characters without control characters");
    std::string path = "/" + std::string(*known) + "/" + url_encode(id);
    json::value no_body;
    auto r = co_await request(Host::crm, boost::beast::http::verb::get, std::move(path), std::move(no_body),
                              std::move(cred));
    if (!r) {
        if (r.error().code == ErrorKind::not_found) co_return std::optional<Record>{};
        co_return std::move(r).error();
    }
    if (!r.value().is_object())
        co_return Error{ErrorKind::permanent, 200,
                        "Rollout answered a read of one " + std::string(*known) + " record with no JSON object"};
    Record found{{}, std::move(r.value().as_object())};
    if (const auto* record_id = found.data.if_contains("id")) found.id = id_of(*record_id);
    if (found.id.empty()) found.id = std::move(id);   // the id it was read by
    co_return std::optional<Record>{std::move(found)};
}

}  // namespace rollout_mcp::rollout
