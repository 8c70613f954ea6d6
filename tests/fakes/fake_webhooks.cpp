// Signing and sending webhook deliveries, and validating subscriptions (fake_webhooks.hpp).
#include "fake_webhooks.hpp"

#include "fake_jwt.hpp"
#include "fake_store.hpp"

#include "base/use_nothrow.hpp"

#include <boost/asio/co_spawn.hpp>
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

#include <map>
#include <optional>
#include <regex>

namespace rollout_mcp::fake {
namespace asio = boost::asio;
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

std::optional<std::string> signature_header(const std::string& secret, const std::string& body, Signing signing,
                                            SignedInput input, DigestForm form) {
    switch (signing) {
    case Signing::valid: return webhook_signature(secret, body, input, form);
    case Signing::other_key: return webhook_signature(secret + "-other", body, input, form);
    case Signing::forged: {
        std::string sig = webhook_signature(secret, body, input, form);
        sig[0] = sig[0] == 'a' ? 'b' : 'a';   // one character off
        return sig;
    }
    case Signing::unsigned_: break;
    }
    return std::nullopt;
}

asio::awaitable<SentDelivery> send_webhook(const std::string& url, const std::string& body,
                                           const std::optional<std::string>& signature) {
    static const std::regex shape(R"(^http://([^/:]+):(\d+)(/.*)$)");
    std::smatch m;
    if (!std::regex_match(url, m, shape)) throw std::invalid_argument("send_webhook: not http://host:port/path: " + url);
    const std::string host = m[1].str(), port = m[2].str(), target = m[3].str();
    const auto executor = co_await asio::this_coro::executor;
    boost::beast::tcp_stream stream(executor);
    stream.expires_after(std::chrono::seconds(5));
    asio::ip::tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, use_nothrow);
    if (rec) co_return SentDelivery{};
    // Tests send to loopback only: a subscription URL naming any other address is refused before connecting.
    for (const auto& entry : endpoints)
        if (!entry.endpoint().address().is_loopback()) co_return SentDelivery{};
    auto [cec, endpoint] = co_await stream.async_connect(endpoints, use_nothrow);
    if (cec) co_return SentDelivery{};
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, host + ":" + port);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "fake-rollout-webhooks");
    if (signature) req.set("X-Rollout-Signature", *signature);
    req.body() = body;
    req.prepare_payload();
    auto [wec, written] = co_await http::async_write(stream, req, use_nothrow);
    if (wec) co_return SentDelivery{};
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    auto [ec, read] = co_await http::async_read(stream, buffer, res, use_nothrow);
    if (ec) co_return SentDelivery{};
    co_return SentDelivery{res.result_int(), res.body()};
}

SentDelivery post_webhook(const std::string& url, const std::string& body, const std::string& secret, Signing signing,
                          SignedInput input, DigestForm form) {
    const auto signature = signature_header(secret, body, signing, input, form);
    asio::io_context io;
    SentDelivery out;
    asio::co_spawn(io, send_webhook(url, body, signature), [&out](std::exception_ptr e, SentDelivery sent) {
        if (e) std::rethrow_exception(e);   // out of io.run(): a url that is not http://host:port/path
        out = std::move(sent);
    });
    io.run();
    return out;
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
// {_metadata, webhooks}; PUT /webhooks/{id} {status?: "Active"|"Disabled"} -> 200 the subscription (as Rollout's
// dashboard may disable one); DELETE /webhooks/{id} -> 200 []. Per credential, like every CRM-host record.
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
    if (parts.size() == 2 && req.method == "PUT") {
        boost::system::error_code ec;
        auto v = json::parse(req.body, ec);
        if (ec || !v.is_object()) return error_reply(400, "Request body must be a JSON object");
        const auto* status = v.get_object().if_contains("status");
        if (status && (!status->is_string() || (status->get_string() != "Active" && status->get_string() != "Disabled")))
            return error_reply(400, "status must be Active or Disabled");
        for (auto& s : subs)
            if (s.at("id").as_string() == parts[1]) {
                if (status) s["status"] = *status;
                return json_reply(200, s);
            }
        return error_reply(404, "Record not found: webhooks/" + parts[1]);
    }
    if (parts.size() == 2 && req.method == "DELETE") {
        const auto before = subs.size();
        std::erase_if(subs, [&](const json::object& s) { return s.at("id").as_string() == parts[1]; });
        if (subs.size() == before) return error_reply(404, "Record not found: webhooks/" + parts[1]);
        return json_reply(200, json::array{});
    }
    return error_reply(405, "Method not allowed");
}

// POST /_fake/deliver {credentialId, event, resourceIds, eventId?, eventCreated?, signing?} -> 200 [{status, body}]:
// one delivery to each of the credential's subscriptions to `event`, in turn. Awaited on the fake's own thread,
// which keeps serving meanwhile: a receiver may call the fake back before it answers.
asio::awaitable<Reply> deliver_route(Store& store, const std::string& crm_base, const Request& req) {
    boost::system::error_code ec;
    const auto parsed = json::parse(req.body, ec);
    if (ec || !parsed.is_object()) co_return error_reply(400, "Request body must be a JSON object");
    const auto& o = parsed.get_object();
    const auto text = [&o](std::string_view key) {
        const auto* v = o.if_contains(key);
        return v && v->is_string() ? std::string(v->get_string()) : std::string{};
    };
    const std::string credential = text("credentialId");
    WebhookEvent event{text("event"), {}, text("eventId"), text("eventCreated")};
    if (credential.empty() || event.event.empty()) co_return error_reply(400, "credentialId and event are required");
    const auto* ids = o.if_contains("resourceIds");
    if (!ids || !ids->is_array()) co_return error_reply(400, "resourceIds must be an array of strings");
    for (const auto& id : ids->get_array()) {
        if (!id.is_string()) co_return error_reply(400, "resourceIds must be an array of strings");
        event.resource_ids.emplace_back(id.get_string());
    }
    static const std::map<std::string, Signing, std::less<>> signings{
        {"valid", Signing::valid}, {"forged", Signing::forged}, {"unsigned", Signing::unsigned_},
        {"otherKey", Signing::other_key}};
    const auto signing = signings.find(o.contains("signing") ? text("signing") : std::string("valid"));
    if (signing == signings.end()) co_return error_reply(400, "signing must be valid, forged, unsigned or otherKey");
    const std::string body = webhook_body(event, crm_base);
    const auto signature =
        signature_header(store.webhook_secret(), body, signing->second, SignedInput::raw_body, DigestForm::hex);
    const auto urls = store.webhook_urls(credential, event.event);
    json::array out;
    for (const auto& url : urls) {
        const SentDelivery sent = co_await send_webhook(url, body, signature);
        out.push_back(json::object{{"status", sent.status}, {"body", sent.body}});
    }
    co_return json_reply(200, out);
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
