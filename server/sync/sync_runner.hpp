// One attempt of one outbox job: opens the stored tour or feedback, reads the team's Rollout client, CRM
// credential and ledger, runs the CRM adapter and says what to write back (records, ledger rows, error).
#pragma once

#include "server/sync/team_rollout.hpp"

#include "rollout/errors.hpp"
#include "storage/outbox.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

namespace rollout_mcp {

struct AttemptResult {
    std::optional<Error> error;        // none: the job succeeded
    std::vector<storage::LedgerEntry> ledger;   // records to remember (also after an error: progress)
    std::string result_json;                    // JSON array of {kind, localId, externalId, action}
};

// A job's payload is the tourData or feedbackData the caller sent, validated and normalized (rollout::to_json:
// unknown fields dropped, the tool result lists them as ignoredFields).
// Its hash (BLAKE2b-256 over CRM type, shaping options and payload) marks what was last written.
std::vector<unsigned char> payload_hash(std::string_view crm_type, bool appointments, std::string_view payload_json);

class SyncRunner {
public:
    explicit SyncRunner(TeamRollout& team) : team_(team) {}
    boost::asio::awaitable<AttemptResult> run(const storage::ClaimedJob& job);

private:
    TeamRollout& team_;
};

}  // namespace rollout_mcp
