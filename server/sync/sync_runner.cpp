// One outbox attempt: payload -> adapter call with ledger ids -> records and ledger rows. An unchanged
// payload whose last write is in the ledger makes no CRM call at all.
#include "server/sync/sync_runner.hpp"

#include "server/sync/rollout_field_rules.hpp"

#include "rollout/adapters/adapter.hpp"
#include "rollout/model.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <sodium.h>

#include <set>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

Error permanent(std::string message) { return Error{rollout::ErrorKind::permanent, 0, std::move(message)}; }

Error transient(std::string message) { return Error{rollout::ErrorKind::transient, 0, std::move(message)}; }

// A record updated without overwriting what the CRM's users changed carries "keptFromCrm": [field, ...]
// (job_json in sync_job_view.cpp lists them for the job as a whole; README, "Changes from the CRM").
std::string records_json(const rollout::SyncOutcome& outcome) {
    json::array out;
    for (const auto& r : outcome.records) {
        json::object record{{"kind", r.kind}, {"localId", r.local_id}, {"externalId", r.external_id},
                            {"action", rollout::to_string(r.action)}};
        for (const auto& k : outcome.kept)
            if (k.kind == r.kind && k.local_id == r.local_id && r.action == rollout::Action::updated) {
                json::array fields;
                for (const auto& f : k.fields) fields.emplace_back(f);
                record["keptFromCrm"] = std::move(fields);
            }
        out.push_back(std::move(record));
    }
    return json::serialize(out);
}

// The local ids a job may have ledger rows for: the buyer, each visit or the feedback note, the payload (and, added
// by SyncRunner::run for a tour, the appointment type's name).
struct Parsed {
    std::optional<rollout::Tour> tour;
    std::optional<rollout::Feedback> feedback;
    std::vector<std::string> local_ids;
};

Result<Parsed> parse_payload(const storage::ClaimedJob& job) {
    json::error_code ec;
    auto value = json::parse(job.payload.text(), ec);
    if (ec) return invalid_argument("the stored payload is not JSON");
    Parsed p;
    if (job.info.kind == "tour") {
        auto tour = rollout::parse_tour(value, "tourData");
        if (!tour) return invalid_argument("the stored tour no longer parses: " + tour.error().message);
        // The buyer, the tour's placeholder and its tour -> buyer binding, each visit.
        if (tour->buyer_id) p.local_ids.push_back(*tour->buyer_id);
        p.local_ids.push_back(rollout::buyer_local_id(std::nullopt, tour->tour_id));
        p.local_ids.push_back(tour->tour_id);
        for (const auto& v : tour->properties) p.local_ids.push_back(rollout::visit_local_id(tour->tour_id, v.property_id));
        p.tour = std::move(*tour);
    } else if (job.info.kind == "feedback") {
        auto fb = rollout::parse_feedback(value, "feedbackData");
        if (!fb) return invalid_argument("the stored feedback no longer parses: " + fb.error().message);
        if (fb->buyer_id) p.local_ids.push_back(*fb->buyer_id);
        p.local_ids.push_back(rollout::buyer_local_id(std::nullopt, fb->tour_id));
        p.local_ids.push_back(fb->tour_id);
        p.local_ids.push_back(rollout::feedback_local_id(*fb));
        p.feedback = std::move(*fb);
    } else {
        return invalid_argument("unknown job kind \"" + job.info.kind + "\"");
    }
    p.local_ids.push_back(job.info.subject);
    return p;
}

// The ledger rows of these local ids, and for feedback also its tour's visits: one storage step.
Result<std::vector<storage::LedgerEntry>> read_ledger(storage::Storage& s, const std::string& tenant,
                                                      const std::string& crm_type, const std::vector<std::string>& ids,
                                                      const std::string& visits_of) {
    auto rows = s.sync_ledger(tenant, crm_type, ids);
    if (!rows || visits_of.empty()) return rows;
    auto visits = s.sync_ledger_visits(tenant, crm_type, visits_of);
    if (!visits) return visits;
    rows->insert(rows->end(), visits->begin(), visits->end());
    return rows;
}

}  // namespace

std::vector<unsigned char> payload_hash(std::string_view crm_type, bool appointments, std::string_view payload_json) {
    std::vector<unsigned char> out(crypto_generichash_BYTES);
    crypto_generichash_state state;
    crypto_generichash_init(&state, nullptr, 0, out.size());
    const std::string head = std::string(crm_type) + (appointments ? "|appointments|" : "|tasks|");
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(head.data()), head.size());
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(payload_json.data()), payload_json.size());
    crypto_generichash_final(&state, out.data(), out.size());
    return out;
}

asio::awaitable<AttemptResult> SyncRunner::run(const storage::ClaimedJob& job) {
    AttemptResult result;
    const auto& info = job.info;
    auto parsed = parse_payload(job);
    if (!parsed) {
        result.error = permanent(parsed.error().message);
        co_return result;
    }
    team_.observe_config_version(info.tenant_id, job.config_version);   // as the claim read it
    // One configuration for the whole attempt: the client and the connection come from the same version.
    auto config = co_await team_.config(info.tenant_id);
    if (!config) {
        const Error& f = config.error();
        result.error = f.code == storage::ErrorCode::busy ? transient("cannot read this team's settings: " + f.message)
                                                          : permanent("cannot read this team's settings: " + f.message);
        co_return result;
    }
    auto client_or = team_.client_from(info.tenant_id, **config);
    if (!client_or) {
        result.error = permanent(client_or.error().message);
        co_return result;
    }
    auto client = *client_or;
    const TeamConfig::Connection* connection = (*config)->connection(info.crm_type);
    if (!connection) {
        result.error = permanent("crmType: \"" + info.crm_type + "\" is no longer connected for this team");
        co_return result;
    }
    if (!connection->unreadable.empty()) {   // this CRM only: the team's other connections go on
        result.error = permanent("cannot open the CRM connection: " + connection->unreadable);
        co_return result;
    }
    // The credential id goes into X-Rollout-Credential-Id: one that no longer fits the rule is never sent.
    if (auto bad = field_problem(RolloutField::credential_key, connection->credential_key)) {
        result.error = permanent("the stored " + info.crm_type + " connection is not usable (" + *bad +
                                 "): call configure_crm_connection again");
        co_return result;
    }
    rollout::AdapterOptions options;
    options.team = info.tenant_id;   // markers name the team
    if (auto connectors = co_await team_.connectors(info.tenant_id, *client))
        for (const auto& c : *connectors)
            if (c.key == info.crm_type) options.appointments_supported = c.supports("appointments", "create");
    if (parsed->tour && options.appointments_supported) parsed->local_ids.push_back(options.appointment_type);

    // Feedback also reads its tour's visits: if the buyer's own contact wins over the tour's placeholder,
    // the feedback job re-points them (rollout/adapters/buyer_contact.cpp).
    // Arguments are named first: GCC 12 destroys a temporary inside a co_await expression twice.
    const std::string visits_of = parsed->feedback ? parsed->feedback->tour_id : std::string();
    auto ledger = co_await team_.storage().call(&read_ledger, info.tenant_id, info.crm_type, parsed->local_ids,
                                                visits_of);
    if (!ledger) {
        result.error = transient("cannot read the sync ledger: " + ledger.error().message);
        co_return result;
    }

    const auto hash = payload_hash(info.crm_type, options.appointments_supported, job.payload.text());

    rollout::SyncTarget target{std::string(connection->credential_key), {}, info.recover};
    // Markers from before they named the team are trusted only where no other team shares this CRM account.
    target.legacy_markers = (*config)->legacy_markers;
    target.accept_legacy_markers = target.legacy_markers && !connection->shared_with_other_team;
    bool unchanged = false;
    for (const auto& e : *ledger) {
        if (e.entity_kind == info.kind && e.local_id == info.subject) unchanged = e.payload_hash == hash;
        else if (!e.external_id.empty()) {
            const std::string key = rollout::known_key(e.entity_kind, e.local_id);
            target.known[key] = e.external_id;
            target.states[key] = {e.written_state, e.crm_state};
        }
    }
    if (unchanged && !info.recover) {
        json::array records;
        for (const auto& e : *ledger)
            if (!e.external_id.empty() && e.entity_kind != "tour_buyer" && e.entity_kind != "superseded" &&
                e.entity_kind != "appointment_type")
                records.push_back(json::object{{"kind", e.entity_kind}, {"localId", e.local_id},
                                               {"externalId", e.external_id}, {"action", "unchanged"}});
        result.result_json = json::serialize(records);
        co_return result;
    }

    client->set_metrics_label(info.crm_type);   // Rollout calls are counted per CRM
    client->set_trace_context(info.traceparent, info.tracestate);   // the accepting call's trace, if it sent one
    auto adapter = rollout::make_adapter(info.crm_type, options);
    rollout::SyncOutcome outcome;
    if (parsed->tour) outcome = co_await adapter->sync_tour(*client, std::move(target), *parsed->tour);
    else outcome = co_await adapter->sync_feedback(*client, std::move(target), *parsed->feedback);

    // crm_state: the watched fields as the CRM answered our write, so that write echoed back by a webhook is
    // recognized as ours (server/sync/hook_processor.hpp).
    for (const auto& r : outcome.records) result.ledger.push_back({r.kind, r.local_id, r.external_id, {}, r.crm_state, r.written_state});
    for (const auto& b : outcome.bindings) result.ledger.push_back({b.kind, b.local_id, b.external_id, {}});
    if (outcome.ok()) result.ledger.push_back({info.kind, info.subject, "", hash});
    result.result_json = records_json(outcome);
    result.error = std::move(outcome.error);
    co_return result;
}

}  // namespace rollout_mcp
