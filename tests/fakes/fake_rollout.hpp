// The fake Rollout: an in-process (or stand-alone, see main.cpp) HTTP/HTTPS server that speaks the Rollout
// endpoints rollout-mcp uses, stores what it receives per credential, records every request, injects faults.
//
// One listener serves three hosts by path prefix, so a client's base URLs are e.g.
//   platform   http://127.0.0.1:PORT/platform/api     (universal.rollout.com/api)
//   CRM        http://127.0.0.1:PORT/crm/api          (crm.universal.rollout.com/api)
//   automation http://127.0.0.1:PORT/automation/api   (<projectEnvKey>.rolloutapp.com/api, v2)
// plus the test/inspection API under /_fake/ (tests/fakes/README.md lists every path and JSON shape).
//
// Scripted mode (Options::script, for the rollout/ client tests): the test's script answers every request
// instead of the emulated Rollout, with a chosen status, body, headers, delay, no answer at all, or bytes
// after the reply; requests are recorded with the connection they came on, and peak concurrency is measured.
#pragma once

#include "fake_webhooks.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rollout_mcp::fake {

struct RecordedRequest;

// Scripted mode: the answer to one request.
struct ScriptedReply {
    ScriptedReply() = default;
    ScriptedReply(unsigned s, std::string b = "{}", std::map<std::string, std::string> h = {})
        : status(s), body(std::move(b)), headers(std::move(h)) {}

    unsigned status = 200;
    std::string body = "{}";
    std::map<std::string, std::string> headers;   // Content-Type is application/json unless set here
    std::chrono::milliseconds delay{0};            // before answering
    bool hang = false;                             // never answer (the connection closes at stop())
    std::string trailing;                          // raw bytes written with the reply (a desynced stream)
};
// Called on the fake's thread, one request at a time; must not block (use `delay`).
using Script = std::function<ScriptedReply(const RecordedRequest&)>;

struct Options {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 0;                        // 0 = any free port
    bool tls = false;                              // also open a TLS listener
    std::uint16_t tls_port = 0;                    // 0 = any free port
    std::string tls_cert_pem, tls_key_pem;         // empty with tls = a generated test CA + server cert
    std::string client_secret;                     // HS512 key for JWTs; empty = signatures not checked
    std::chrono::milliseconds latency{0};          // added before every Rollout answer (not /_fake/)
    bool quiet = true;                             // no per-request log lines on stderr
    Script script;                                 // set: scripted mode (see above)
};

// One request as received (the /_fake/ API is not recorded).
struct RecordedRequest {
    std::uint64_t seq = 0;
    std::string method;                            // "POST"
    std::string path;                              // "/crm/api/people" (no query)
    std::string query;                             // "limit=1&offset=0" (raw, may be empty)
    std::string target;                            // as sent: path, then "?" and the query when there is one
    std::map<std::string, std::string> params;     // decoded query parameters
    std::map<std::string, std::string> headers;    // every header, names lower-cased
    std::string credential_id;                     // X-Rollout-Credential-Id ("" if absent)
    boost::json::object jwt_claims;                // the Bearer JWT's payload, unverified ({} if none)
    std::string body;                              // raw body
    boost::json::value json;                       // parsed body (null when empty or not JSON)
    unsigned status = 0;                           // what the fake answered; 0 = no answer (timeout fault)
    bool tls = false;
    int connection = 0;                            // 1, 2, ... in accept order (both listeners count together)
    std::chrono::steady_clock::time_point received_at{};   // when the fake read it
    boost::json::object to_json() const;
};

// A fault rule (POST /_fake/faults takes the same fields as JSON). A request matches when every given
// field of `match` matches; the first matching terminal rule with count left fires, and every matching
// latency rule adds its delay.
struct FaultRule {
    // After-write actions run the handler first (the write is applied and stored), then break the exchange the
    // way a real network does: hold the connection without an answer, reset it (RST), half-close it (FIN,
    // no answer), or send a reply whose body is cut short before closing. reset_before_handle resets without
    // applying anything (a failure the client may safely retry). close_after_reply answers normally with
    // "Connection: close", so the client's next request goes out on a fresh connection.
    enum class Action {
        latency, status, rate_limit, timeout_after_write, not_ready, auth_expired,
        reset_after_write, half_close_after_write, truncated_body, reset_before_handle, close_after_reply
    };
    std::optional<std::string> method;             // "POST" (case-insensitive)
    std::optional<std::string> path_prefix;        // "/crm/api/people"
    std::optional<std::string> credential_id;      // X-Rollout-Credential-Id
    std::optional<bool> reused_connection;         // true: only a kept-alive connection's 2nd+ request
    Action action = Action::status;
    std::chrono::milliseconds latency{0};          // latency
    unsigned status = 500;                         // status
    std::string body = R"({"errorMessage":"Internal Server Error"})";   // status: reply body (JSON text)
    std::string content_type = "application/json";  // status: e.g. "text/html" for a proxy's 5xx page
    std::optional<int> retry_after_seconds;        // rate_limit: Retry-After header (none when unset)
    int count = 1;                                 // matching requests it affects; -1 = unlimited
                                                   // (latency defaults to unlimited in from_json)
    static FaultRule from_json(const boost::json::object& o);   // throws std::invalid_argument
    boost::json::object to_json() const;
};

class FakeRollout {
public:
    explicit FakeRollout(Options options = {});
    ~FakeRollout();                                // stops the server
    FakeRollout(const FakeRollout&) = delete;
    FakeRollout& operator=(const FakeRollout&) = delete;

    void start();                                  // binds, then serves on its own io_context thread
    void stop();                                   // closes listeners and connections, joins the thread

    std::uint16_t port() const;                    // plain HTTP port (after start)
    std::uint16_t tls_port() const;                // 0 when TLS is off
    const std::string& ca_pem() const;             // CA of the generated certificate ("" when given certs)
    std::string url(bool tls = false) const;       // "http://127.0.0.1:PORT" / "https://localhost:TLS_PORT"
    int connections() const;                       // accepted so far, both listeners
    int peak_in_flight() const;                    // most requests between arrival and answer at once
    std::string platform_url(bool tls = false) const { return url(tls) + "/platform/api"; }
    std::string crm_url(bool tls = false) const { return url(tls) + "/crm/api"; }
    std::string automation_url(bool tls = false) const { return url(tls) + "/automation/api"; }

    // Test API (thread-safe; the same operations as /_fake/).
    std::vector<RecordedRequest> requests() const;
    void clear_requests();
    boost::json::object state() const;             // GET /_fake/state
    void reset();                                  // everything: credentials, records, automations, faults, log
    // Creates a credential for `sub` (answers 409 not-ready for `not_ready_for`); returns it as JSON
    // ({id, appKey, sub, label, createdAt, ready}). Seeds an appointment type "Showing" and one user.
    // `id`: a fixed credential id (a v2 credential key a client hard-codes); empty = a generated one.
    boost::json::object add_credential(const std::string& app_key, const std::string& sub,
                                       const std::string& label = {},
                                       std::chrono::milliseconds not_ready_for = std::chrono::milliseconds{0},
                                       const std::string& id = {});
    std::uint64_t add_fault(const FaultRule& rule);   // returns the rule id
    void clear_faults();
    // Records of one credential and kind ("people", "notes", ...), oldest first.
    std::vector<boost::json::object> records(const std::string& credential_id, const std::string& kind) const;
    // Seeds a record as if the CRM's users made it (returns it with its id); removes one. Test set-up only.
    boost::json::object put_record(const std::string& credential_id, const std::string& kind, boost::json::object record);
    bool remove_record(const std::string& credential_id, const std::string& kind, const std::string& id);
    // Webhooks (fake_webhooks.hpp): a credential's subscriptions (made through POST /crm/api/webhooks), and
    // one delivery of `event` to each of them that is subscribed to event.event, signed with the webhook
    // key (the client secret unless set) as `signing` says. Blocking; call it from the test's thread.
    std::vector<boost::json::object> webhooks(const std::string& credential_id) const;
    std::vector<SentDelivery> deliver(const std::string& credential_id, const WebhookEvent& event,
                                      Signing signing = Signing::valid, SignedInput input = SignedInput::raw_body,
                                      DigestForm form = DigestForm::hex);
    void set_webhook_secret(std::string secret);
    // A JWT the fake accepts (signed with options.client_secret).
    std::string mint_jwt(const std::string& sub, std::chrono::seconds ttl = std::chrono::seconds{3600}) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rollout_mcp::fake
