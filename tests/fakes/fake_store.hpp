// Internal to the fake Rollout: the transport-free request/reply types and the Store, which holds all state
// (credentials, per-credential CRM records, automations, faults, the request log) behind one mutex and
// answers requests. Handlers live in fake_routes.cpp (platform, automation, /_fake/) and fake_crm.cpp.
#pragma once

#include "fake_rollout.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rollout_mcp::fake {

struct Request {
    std::string method;
    std::string path;                               // without the query
    std::string query;
    std::string target;                             // path and query as sent
    std::map<std::string, std::string> params;
    std::map<std::string, std::string> headers;     // lower-cased names
    std::string body;
    bool tls = false;
    bool reused_connection = false;                 // not the first request on its connection
    int connection = 0;                             // 1, 2, ... in accept order
    std::string header(const std::string& lower_name) const;
};

struct Reply {
    unsigned status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // How the answer is delivered (the after-write faults of FaultRule).
    enum class Delivery { normal, close, hang, reset, half_close, truncate };
    Delivery delivery = Delivery::normal;
    std::string trailing;                           // raw bytes sent with the reply (scripted mode)
    bool answered() const {
        return delivery == Delivery::normal || delivery == Delivery::close || delivery == Delivery::truncate;
    }
};

Reply json_reply(unsigned status, const boost::json::value& body);
Reply error_reply(unsigned status, std::string_view message);   // {"errorMessage": message}
std::string now_iso();                                           // 2026-11-24T09:25:00.123Z
std::map<std::string, std::string> parse_query(std::string_view query);
std::string url_decode(std::string_view s);

inline constexpr std::string_view kNotReadyMessage = "Data for this credential is not ready yet. Please try again.";

struct Credential {
    std::string id, app_key, sub, label, created_at;
    std::chrono::steady_clock::time_point ready_at{};
    bool ready() const { return std::chrono::steady_clock::now() >= ready_at; }
    boost::json::object to_json() const;          // {id, createdAt, appKey, label}
};

// The records of one kind for one credential, in creation order.
struct Collection {
    std::map<std::uint64_t, boost::json::object> items;
    std::unordered_map<std::string, std::uint64_t> index;   // id -> key in items
    boost::json::object* find(const std::string& id);
};

struct FaultDecision {
    std::chrono::milliseconds latency{0};
    std::optional<FaultRule> terminal;
};

class Store {
public:
    explicit Store(std::string client_secret) : secret_(std::move(client_secret)) {}

    Reply handle(const Request& req);                     // any path; locks
    FaultDecision decide_faults(const Request& req);      // consumes counts; locks
    RecordedRequest record(const Request& req);           // appends to the log, returns the entry; locks
    void set_status(std::uint64_t seq, unsigned status);

    // The C++ test API (FakeRollout forwards here); each locks.
    std::vector<RecordedRequest> requests() const;
    void clear_requests();
    boost::json::object state() const;
    void reset();
    boost::json::object add_credential(const std::string& app_key, const std::string& sub, const std::string& label,
                                       std::chrono::milliseconds not_ready_for, const std::string& id = {});
    std::uint64_t add_fault(const FaultRule& rule);
    void clear_faults();
    std::vector<boost::json::object> records(const std::string& credential_id, const std::string& kind) const;
    boost::json::object put_record(const std::string& credential_id, const std::string& kind, boost::json::object record);
    bool remove_record(const std::string& credential_id, const std::string& kind, const std::string& id);
    const std::string& secret() const { return secret_; }
    // Webhooks (fake_webhooks.cpp): a credential's subscriptions, the URLs subscribed to `event`, and the
    // key deliveries are signed with (the client secret unless set).
    std::vector<boost::json::object> webhooks(const std::string& credential_id) const;
    std::vector<std::string> webhook_urls(const std::string& credential_id, const std::string& event) const;
    void set_webhook_secret(std::string secret);
    std::string webhook_secret() const;

private:
    // Handlers: called with mu_ held.
    Reply handle_platform(const Request& req, std::string_view rest);
    Reply handle_crm(const Request& req, std::string_view rest);
    Reply handle_automation(const Request& req, std::string_view rest);
    Reply handle_fake(const Request& req, std::string_view rest);
    Reply crm_list(const Request& req, Credential& cred, const std::string& kind);
    Reply crm_create(const Request& req, Credential& cred, const std::string& kind);
    Reply crm_update(const Request& req, Credential& cred, const std::string& kind, const std::string& id);
    Reply crm_webhooks(const Request& req, Credential& cred, const std::vector<std::string>& parts);
    Reply crm_tags(const Request& req, Credential& cred, const std::string& id, bool apply);
    std::optional<std::string> validate(Credential& cred, const std::string& kind, const boost::json::object& body,
                                        bool partial);
    boost::json::object& insert(Credential& cred, const std::string& kind, boost::json::object record);
    Credential& create_credential(const std::string& app_key, const std::string& sub, const std::string& label,
                                  std::chrono::milliseconds not_ready_for, const std::string& id = {});
    Credential* find_credential(const std::string& id);
    boost::json::object state_unlocked() const;
    void reset_unlocked();
    std::string next_id(std::string_view prefix);

    mutable std::mutex mu_;
    std::string secret_;
    std::uint64_t counter_ = 0;
    std::vector<Credential> credentials_;
    std::map<std::string, std::map<std::string, Collection>> crm_;   // credential id -> kind -> records
    std::vector<boost::json::object> automations_;
    std::vector<boost::json::object> push_events_;
    std::vector<std::pair<std::uint64_t, FaultRule>> faults_;
    std::uint64_t fault_counter_ = 0;
    std::map<std::string, std::vector<boost::json::object>> webhooks_;   // credential id -> subscriptions
    std::optional<std::string> webhook_secret_;
    std::deque<RecordedRequest> log_;
    std::uint64_t log_seq_ = 0;
};

// The CRM entity kinds the fake serves ("people", "notes", ...), in a fixed order.
std::vector<std::string> crm_kinds();

// POST /_fake/deliver (fake_webhooks.cpp): Rollout's signed notifications to the credential's subscriptions,
// sent without blocking the fake's thread. `crm_base` is the fake's CRM URL (the notification's `uri`).
boost::asio::awaitable<Reply> deliver_route(Store& store, const std::string& crm_base, const Request& req);

// The connector catalog GET /connectors serves (object keyed by appKey).
boost::json::object connector_catalog();

}  // namespace rollout_mcp::fake
