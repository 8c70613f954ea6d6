// Protocol revisions and their differences (https://modelcontextprotocol.io/specification/2025-11-25/changelog,
// https://modelcontextprotocol.io/specification/2026-07-28/changelog).
#include "server/mcp/protocol.hpp"

namespace rollout_mcp::mcp {

std::optional<Revision> parse_revision(std::string_view text) {
    if (text == "2026-07-28") return Revision::v2026_07_28;
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
        case Revision::v2026_07_28: return "2026-07-28";
    }
    return "2025-11-25";
}

Revision negotiate(std::string_view requested) {
    const auto parsed = parse_revision(requested);
    if (!parsed || !policy(*parsed).sessions) return kLatestSessionRevision;
    return *parsed;
}

RevisionPolicy policy(Revision revision) {
    switch (revision) {
        case Revision::v2025_03_26: return {true, true, false, false, false, false, false};
        case Revision::v2025_06_18: return {true, false, false, true, false, false, false};
        case Revision::v2025_11_25: return {true, false, true, true, true, false, false};
        case Revision::v2026_07_28: return {false, false, false, true, true, true, true};
    }
    return {true, false, true, true, true, false, false};
}

}  // namespace rollout_mcp::mcp
