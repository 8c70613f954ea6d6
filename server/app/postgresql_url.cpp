// Password detection in libpq connection strings, following libpq's own parsing of URIs
// (conninfo_uri_parse_options) where it matters: what libpq would read as a password is refused.
#include "server/app/postgresql_url.hpp"

#include <cctype>
#include <string>

namespace rollout_mcp {
namespace {

constexpr std::string_view kPrefixes[] = {"postgresql://", "postgres://"};

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// libpq percent-decodes URI parameter names, so "pass%77ord=" is a password too. Lower-cased, and a
// malformed escape is kept as written (libpq would refuse the URI anyway).
std::string decoded_lowercase(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            c = static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        }
        out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return out;
}

// "password", then optional blanks (keyword/value strings allow "password = x"), then '='.
bool names_a_password(std::string_view text) {
    for (auto at = text.find("password"); at != std::string_view::npos; at = text.find("password", at + 1)) {
        auto p = at + 8;
        while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p]))) ++p;
        if (p < text.size() && text[p] == '=') return true;
    }
    return false;
}

}  // namespace

bool is_postgresql_uri(std::string_view url) {
    for (auto prefix : kPrefixes)
        if (url.substr(0, prefix.size()) == prefix) return true;
    return false;
}

bool postgresql_conninfo_has_password(std::string_view conninfo) {
    for (auto prefix : kPrefixes) {
        if (conninfo.substr(0, prefix.size()) != prefix) continue;
        // As libpq does: the userinfo ends at the first '@' met before any '/', and a ':' in it starts the
        // password (an empty one included: refusing it costs nothing).
        const auto rest = conninfo.substr(prefix.size());
        const auto end = rest.find_first_of("@/");
        if (end != std::string_view::npos && rest[end] == '@' && rest.substr(0, end).find(':') != std::string_view::npos)
            return true;
        break;
    }
    return names_a_password(decoded_lowercase(conninfo));
}

}  // namespace rollout_mcp
