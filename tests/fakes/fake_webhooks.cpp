// Signing and sending webhook deliveries, and validating subscriptions (fake_webhooks.hpp).
#include "fake_webhooks.hpp"

#include "fake_jwt.hpp"
#include "fake_store.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <optional>
#include <regex>

namespace rollout_mcp::fake {
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

std::string hmac_sha256(const std::string& key, const std::string& data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), mac, &len);
    return std::string(reinterpret_cast<const char*>(mac), len);
}

// Standard base64 with padding, through OpenSSL (not the server's encoder).
std::string base64(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string hex(const std::string& bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string random_uuid() {
    unsigned char b[16];
    RAND_bytes(b, sizeof b);
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    const std::string h = hex(std::string(reinterpret_cast<const char*>(b), sizeof b));
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

// "people" of "peopleUpdated": the entity a notification's uri lists.
std::string entity_of(const std::string& event) {
    for (const char* suffix : {"Created", "Updated", "Deleted"})
        if (auto at = event.rfind(suffix); at != std::string::npos && at > 0) return event.substr(0, at);
    return event;
}

}  // namespace

std::string webhook_body(const WebhookEvent& event, const std::string& crm_base) {
    json::array ids;
    std::string joined;
    for (const auto& id : event.resource_ids) {
        ids.emplace_back(id);
        joined += (joined.empty() ? "" : ",") + id;
    }
    return json::serialize(json::object{
        {"eventId", event.event_id.empty() ? random_uuid() : event.event_id},
        {"eventCreated", event.event_created.empty() ? now_iso() : event.event_created},
        {"event", event.event},
        {"resourceIds", std::move(ids)},
        {"uri", crm_base + "/" + entity_of(event.event) + "?ids=" + joined}});
}

std::string webhook_signature(const std::string& secret, const std::string& body, SignedInput input, DigestForm form) {
    const std::string mac = hmac_sha256(secret, input == SignedInput::base64_body ? base64(body) : body);
    return form == DigestForm::hex ? hex(mac) : base64(mac);
}

SentDelivery post_webhook(const std::string& url, const std::string& body, const std::string& secret, Signing signing,
                          SignedInput input, DigestForm form) {
    static const std::regex shape(R"(^http://([^/:]+):(\d+)(/.*)$)");
    std::smatch m;
    if (!std::regex_match(url, m, shape)) throw std::invalid_argument("post_webhook: not http://host:port/path: " + url);
    boost::asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(5));
    boost::asio::ip::tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(m[1].str(), m[2].str(), ec);
    if (!ec) stream.connect(endpoints, ec);
    if (ec) return {};
    http::request<http::string_body> req{http::verb::post, m[3].str(), 11};
    req.set(http::field::host, m[1].str() + ":" + m[2].str());
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "fake-rollout-webhooks");
    switch (signing) {
    case Signing::valid: req.set("X-Rollout-Signature", webhook_signature(secret, body, input, form)); break;
    case Signing::other_key:
        req.set("X-Rollout-Signature", webhook_signature(secret + "-other", body, input, form));
        break;
    case Signing::forged: {
        std::string sig = webhook_signature(secret, body, input, form);
        sig[0] = sig[0] == 'a' ? 'b' : 'a';   // one character off
        req.set("X-Rollout-Signature", sig);
        break;
    }
    case Signing::unsigned_: break;
    }
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req, ec);
    if (ec) return {};
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res, ec);
    if (ec) return {};
    return {res.result_int(), res.body()};
}

std::optional<std::string> webhook_subscription_problem(const json::object& body) {
    static const std::regex events(
        "^(people|notes|tasks|appointments|events|deals)(Created|Updated|Deleted)$|^peopleTagsCreated$");
    const auto* url = body.if_contains("url");
    if (!url || !url->is_string() || !std::regex_match(std::string(url->get_string()), std::regex("^https?://[^ ]+$")))
        return "url must be an absolute http(s) URL";
    const auto* event = body.if_contains("event");
    if (!event || !event->is_string() || !std::regex_match(std::string(event->get_string()), events))
        return "event must be <entity>Created, <entity>Updated or <entity>Deleted";
    if (const auto* f = body.if_contains("filters"); f && !f->is_object()) return "filters must be an object";
    return std::nullopt;
}

}  // namespace rollout_mcp::fake

namespace rollout_mcp::fake {

// POST /webhooks {url, event, filters} -> 201 {id, status: "Active", event, url, filters}; GET /webhooks ->
// {_metadata, webhooks}; DELETE /webhooks/{id} -> 200 []. Per credential, like every CRM-host record.
Reply Store::crm_webhooks(const Request& req, Credential& cred, const std::vector<std::string>& parts) {
    auto& subs = webhooks_[cred.id];
    if (parts.size() == 1 && req.method == "GET") {
        json::array list(subs.begin(), subs.end());
        const auto total = static_cast<std::int64_t>(list.size());
        json::object metadata{{"collection", "webhooks"}, {"offset", 0}, {"limit", total}, {"total", total},
                              {"next", nullptr}, {"nextLink", nullptr}};
        return json_reply(200, json::object{{"_metadata", std::move(metadata)}, {"webhooks", std::move(list)}});
    }
    if (parts.size() == 1 && req.method == "POST") {
        boost::system::error_code ec;
        auto v = json::parse(req.body, ec);
        if (ec || !v.is_object()) return error_reply(400, "Request body must be a JSON object");
        if (auto problem = webhook_subscription_problem(v.get_object())) return error_reply(400, *problem);
        json::object sub{{"id", next_id("wh")},
                         {"status", "Active"},
                         {"event", v.get_object().at("event")},
                         {"url", v.get_object().at("url")},
                         {"filters", v.get_object().contains("filters") ? v.get_object().at("filters") : json::object{}},
                         {"created", now_iso()}};
        subs.push_back(sub);
        return json_reply(201, sub);
    }
    if (parts.size() == 2 && req.method == "DELETE") {
        const auto before = subs.size();
        std::erase_if(subs, [&](const json::object& s) { return s.at("id").as_string() == parts[1]; });
        if (subs.size() == before) return error_reply(404, "Record not found: webhooks/" + parts[1]);
        return json_reply(200, json::array{});
    }
    return error_reply(405, "Method not allowed");
}

std::vector<json::object> Store::webhooks(const std::string& credential_id) const {
    std::lock_guard lock(mu_);
    auto it = webhooks_.find(credential_id);
    return it == webhooks_.end() ? std::vector<json::object>{} : it->second;
}

std::vector<std::string> Store::webhook_urls(const std::string& credential_id, const std::string& event) const {
    std::vector<std::string> out;
    for (const auto& sub : webhooks(credential_id))
        if (sub.at("event").as_string() == event) out.emplace_back(sub.at("url").as_string());
    return out;
}

void Store::set_webhook_secret(std::string secret) {
    std::lock_guard lock(mu_);
    webhook_secret_ = std::move(secret);
}

std::string Store::webhook_secret() const {
    std::lock_guard lock(mu_);
    return webhook_secret_.value_or(secret_);
}

}  // namespace rollout_mcp::fake
