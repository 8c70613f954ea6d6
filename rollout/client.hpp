// RolloutClient: one team's view of Rollout (platform, CRM and automation hosts) over the shared HttpPool:
// bearer JWT per call, X-Rollout-Credential-Id on CRM calls, typed errors, _metadata.next paging.
#pragma once

#include "http_pool.hpp"
#include "jwt.hpp"
#include "errors.hpp"
#include "request_gate.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollout_mcp::rollout {

enum class Host { platform, crm, automation };

struct RolloutEndpoints {
    std::string platform = "https://universal.rollout.com/api";
    std::string crm = "https://crm.universal.rollout.com/api";
    std::string automation;  // v2 project environment; empty = create_automation unavailable

    static std::string automation_for(std::string_view project_env_key);  // https://<key>.rolloutapp.com/api
    // One base URL serving every host (the fake Rollout): <base>/platform/api, /crm/api, /automation/api.
    static RolloutEndpoints all_at(std::string_view base_url);
};

struct ClientConfig {
    RolloutEndpoints endpoints;
    std::shared_ptr<TokenSource> auth;             // platform + CRM hosts
    std::shared_ptr<TokenSource> automation_auth;  // project environment; defaults to `auth`
    std::size_t max_pages = 20;                    // cap when following _metadata.next
    std::size_t max_search_pages = 100;            // cap for look-ups that decide whether to create
    std::string metrics_label;                     // tags every request (the CRM type) for the metrics hook
    // W3C trace context (https://www.w3.org/TR/trace-context/) sent on every request when not empty; the
    // caller has validated both (server/mcp/trace_context.hpp).
    std::string traceparent;
    std::string tracestate;
    // The team this client calls for (HttpRequest::partition): its own pooled connections and its own
    // share of request slots. "" = the operator's own calls.
    std::string partition;
    // list_all keeps at most this many reply bytes in memory; a longer list is an error, not a partial one.
    std::size_t max_list_bytes = 8 * 1024 * 1024;
    // Every request of `partition` passes it before it is sent, and it hears of every 429 (null: no gate).
    std::shared_ptr<RequestGate> gate;
};

struct Connector {
    std::string key;        // appKey, e.g. "highlevel"
    std::string name;
    std::string auth_type;  // apiToken | oauth1 | oauth2 (first plan), may be empty
    bool crm = false;       // has a "crm" entity category
    boost::json::object crm_entities;  // {people: {list, create, update, delete}, appointments: {...}, ...}
    bool supports(std::string_view entity, std::string_view op) const;
};

struct Credential {
    std::string id;  // what X-Rollout-Credential-Id carries (the tools' `credentialKey`)
    std::string app_key;
    std::string label;
    std::string created_at;
};

// A created/updated/listed Rollout record: its id (string or integer ids, 64-bit exact) and the body.
struct Record {
    std::string id;
    boost::json::object data;
};
std::string id_of(const boost::json::value& v);  // "" when absent
std::string url_encode(std::string_view s);

class RolloutClient {
public:
    // Tags the following requests (e.g. with the CRM type) for HttpOptions::observer.
    void set_metrics_label(std::string label) { config_.metrics_label = std::move(label); }
    // The following requests carry this traceparent / tracestate ("" = none).
    void set_trace_context(std::string traceparent, std::string tracestate) {
        config_.traceparent = std::move(traceparent);
        config_.tracestate = traceparent_set() ? std::move(tracestate) : std::string();
    }
    RolloutClient(std::shared_ptr<HttpPool> pool, ClientConfig config);

    // Raw call: `path_and_query` is relative to the host's base URL. 2xx -> parsed JSON (null if empty).
    boost::asio::awaitable<Result<boost::json::value>> request(Host host, boost::beast::http::verb method,
                                                               std::string path_and_query,
                                                               boost::json::value body = nullptr,
                                                               std::string credential_id = {});
    // Every item of a CRM list endpoint, following _metadata.next (at most config.max_pages pages). With
    // `search` the caller acts on an item's absence (it creates one otherwise), so a list longer than
    // config.max_search_pages is an error instead of a partial answer: a cut-off list could hide the record.
    // The pages kept may total at most config.max_list_bytes of reply bytes; beyond that it is an error.
    boost::asio::awaitable<Result<std::vector<boost::json::object>>> list_all(std::string credential_id,
                                                                              std::string path_and_query,
                                                                              bool search = false);
    // Returns true to stop paging (e.g. the record was found).
    using ItemVisitor = std::function<bool(boost::json::object& item)>;
    // The same paging and page caps as list_all, one page in memory at a time (so no byte cap): `visit` sees every
    // item in order until it returns true. A search that neither stops nor reaches the end fails like list_all's.
    // With `holding`, a page with no string value equal to it is only outlined (rollout/list_outline.hpp), its
    // items unseen: for a `visit` that stops only at an item with that string.
    boost::asio::awaitable<Result<void>> for_each_item(std::string credential_id, std::string path_and_query, bool search,
                                                       ItemVisitor visit, std::string holding = {});

    // Platform host
    boost::asio::awaitable<Result<std::vector<Connector>>> list_connectors();
    boost::asio::awaitable<Result<std::vector<Credential>>> list_credentials(std::optional<std::string> app_key = {});

    // CRM host; `cred` is the Rollout credential id of the connected CRM
    boost::asio::awaitable<Result<void>> probe(std::string cred);  // GET /people?limit=1: ready / not_ready / auth
    boost::asio::awaitable<Result<std::optional<Record>>> find_person_by_email(std::string cred, std::string email);
    // By the last ten digits of the number, whatever its formatting.
    boost::asio::awaitable<Result<std::optional<Record>>> find_person_by_phone(std::string cred, std::string phone);
    boost::asio::awaitable<Result<std::optional<Record>>> find_person_by_tag(std::string cred, std::string tag);
    boost::asio::awaitable<Result<Record>> create_person(std::string cred, boost::json::object person);
    boost::asio::awaitable<Result<Record>> update_person(std::string cred, std::string id, boost::json::object person);
    boost::asio::awaitable<Result<Record>> apply_person_tags(std::string cred, std::string id,
                                                             std::vector<std::string> tags);
    boost::asio::awaitable<Result<Record>> create_note(std::string cred, boost::json::object note);
    boost::asio::awaitable<Result<Record>> update_note(std::string cred, std::string id, boost::json::object note);
    boost::asio::awaitable<Result<Record>> create_appointment(std::string cred, boost::json::object appt);
    boost::asio::awaitable<Result<Record>> update_appointment(std::string cred, std::string id,
                                                              boost::json::object appt);
    boost::asio::awaitable<Result<std::vector<boost::json::object>>> list_appointment_types(std::string cred);
    boost::asio::awaitable<Result<Record>> create_appointment_type(std::string cred, boost::json::object type);
    boost::asio::awaitable<Result<Record>> create_task(std::string cred, boost::json::object task);
    boost::asio::awaitable<Result<Record>> update_task(std::string cred, std::string id, boost::json::object task);
    boost::asio::awaitable<Result<std::vector<boost::json::object>>> list_users(std::string cred);
    // One record by id, as the CRM has it now: GET /<collection>/<url-encoded id> for "people", "appointments",
    // "tasks" or "notes" (what a webhook's resourceIds name). nullopt when the CRM answers 404: the record is
    // gone. Without a request, invalid_argument for any other collection, or an id that is empty, longer than
    // 200 characters or holds control characters. `collection` is read when the call runs: pass a literal.
    boost::asio::awaitable<Result<std::optional<Record>>> get_crm_record(std::string credential_id,
                                                                         std::string_view collection, std::string id);
    // Items of /notes, /appointments or /tasks whose personId is `person_id` (for marker look-ups).
    boost::asio::awaitable<Result<std::vector<boost::json::object>>> list_for_person(std::string cred,
                                                                                     std::string collection,
                                                                                     std::string person_id);

    // Automation host (v2 project environment): POST /automations {name, trigger, action}
    boost::asio::awaitable<Result<Record>> create_automation(boost::json::object automation);

    const RolloutEndpoints& endpoints() const { return config_.endpoints; }
    // Pages for_each_item read only in outline so far (for tests and diagnostics).
    std::size_t pages_outlined() const { return pages_outlined_.load(std::memory_order_relaxed); }

private:
    bool traceparent_set() const { return !config_.traceparent.empty(); }
    // Pages of a list endpoint: `visit(items, reply_bytes)` returns true to stop.
    using PageVisitor = std::function<bool(boost::json::array& items, std::size_t reply_bytes)>;
    boost::asio::awaitable<Result<void>> for_each_page(std::string credential_id, std::string path_and_query, bool search,
                                                       PageVisitor visit, std::string holding = {});
    // The call and its status check: a 2xx reply as received; request() parses it with parse_reply.
    boost::asio::awaitable<Result<HttpResponse>> request_text(Host host, boost::beast::http::verb method,
                                                              std::string path_and_query, boost::json::value body,
                                                              std::string credential_id);
    static Result<boost::json::value> parse_reply(const HttpResponse& reply, boost::beast::http::verb method);
    // The first person on the pages of the search `path` with an entry of `list` ("emails", "phones") whose
    // "value" `wanted` accepts: every look-up filters the replies itself, since a connector may ignore the query.
    using TextTest = std::function<bool(std::string_view)>;
    boost::asio::awaitable<Result<std::optional<Record>>> first_person_with(std::string credential_id, std::string path,
                                                                            const char* list, TextTest wanted);
    boost::asio::awaitable<Result<Record>> write(std::string cred, boost::beast::http::verb method, std::string path,
                                                 boost::json::object body, Host host = Host::crm);
    std::shared_ptr<HttpPool> pool_;
    ClientConfig config_;
    std::atomic<std::size_t> pages_outlined_{0};
};

}  // namespace rollout_mcp::rollout
