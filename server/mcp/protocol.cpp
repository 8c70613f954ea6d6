// Protocol revisions and their differences (https://modelcontextprotocol.io/specification/2025-11-25/changelog).
#include "server/mcp/protocol.hpp"

namespace rollout_mcp::mcp {

std::optional<Revision> parse_revision(std::string_view text) {
    if (text == "2025-11-25") return Revision::v2025_11_25;
    if (text == "2025-06-18") return Revision::v2025_06_18;
    if (text == "2025-03-26") return Revision::v2025_03_26;
    return std::nullopt;
}

std::string_view to_string(Revision revision) {
    switch (revision) {
        case Revision::v2025_03_26: return "2025-03-26";
        case Revision::v2025_06_18: return "2025-06-18";
        case Revision::v2025_11_25: return "2025-11-25";
    }
    return "2025-11-25";
}

Revision negotiate(std::string_view requested) {
    return parse_revision(requested).value_or(kLatestRevision);
}

RevisionPolicy policy(Revision revision) {
    switch (revision) {
        case Revision::v2025_03_26: return {true, false, false, false};
        case Revision::v2025_06_18: return {false, false, true, false};
        case Revision::v2025_11_25: return {false, true, true, true};
    }
    return {false, true, true, true};
}

}  // namespace rollout_mcp::mcp
