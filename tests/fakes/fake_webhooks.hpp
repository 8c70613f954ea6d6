// The fake Rollout's webhooks (rollout-api.md sections 4.1 and 7.2): subscriptions per credential on the CRM
// host (POST/GET /webhooks, DELETE /webhooks/{id}), and deliveries a test makes it send, signed the way
// Rollout may sign them (four forms: HMAC-SHA256 over the raw body or its base64, hex or base64 digest) or
// deliberately not: forged, unsigned, signed with another key. Signing is written here independently of
// rollout/webhook_signature.cpp, so the server's verifier is checked against a second implementation.
// Sending is asynchronous (send_webhook), so the fake's own thread keeps serving while a receiver answers a
// delivery that POST /_fake/deliver asked for; post_webhook is the blocking form for in-process tests.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

namespace rollout_mcp::fake {

enum class Signing { valid, forged, unsigned_, other_key };
enum class SignedInput { raw_body, base64_body };
enum class DigestForm { hex, base64 };

struct WebhookEvent {
    std::string event;                        // "appointmentsUpdated"
    std::vector<std::string> resource_ids;
    std::string event_id;                     // "" = a new random one
    std::string event_created;                // "" = now
};

struct SentDelivery {
    unsigned status = 0;                      // 0: no answer (connection refused or reset)
    std::string body;
};

// Rollout's thin notification: {eventId, eventCreated, event, resourceIds, uri}; `uri` points at the fake's
// CRM host (`crm_base`/<entity>?ids=...), which the receiver must never follow.
std::string webhook_body(const WebhookEvent& event, const std::string& crm_base);
std::string webhook_signature(const std::string& secret, const std::string& body, SignedInput input, DigestForm form);

// The X-Rollout-Signature value `signing` calls for; nullopt when the delivery goes unsigned.
std::optional<std::string> signature_header(const std::string& secret, const std::string& body, Signing signing,
                                            SignedInput input, DigestForm form);

// POSTs `body` to `url` (http://host:port/path, else std::invalid_argument; a host that is not loopback: no answer,
// status 0, nothing connected) with `signature` as
// X-Rollout-Signature (none when nullopt), on the awaiting coroutine's executor, 5 s at most. References: the
// awaiting frame keeps them alive.
boost::asio::awaitable<SentDelivery> send_webhook(const std::string& url, const std::string& body,
                                                  const std::optional<std::string>& signature);

// The same, signed as `signing` says; blocking (its own io_context), for a test's thread.
SentDelivery post_webhook(const std::string& url, const std::string& body, const std::string& secret,
                          Signing signing = Signing::valid, SignedInput input = SignedInput::raw_body,
                          DigestForm form = DigestForm::hex);

// POST /webhooks request validation: nullopt when {url, event, filters?} is acceptable, else the message.
std::optional<std::string> webhook_subscription_problem(const boost::json::object& body);

}  // namespace rollout_mcp::fake
