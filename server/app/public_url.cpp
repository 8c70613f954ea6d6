// [server] public_url parsing, and matching the hooks path.
#include "server/app/public_url.hpp"

#include "server/app/origin.hpp"

namespace rollout_mcp {
namespace {

constexpr std::string_view kHooks = "/hooks/rollout/";

// RFC 3986 unreserved characters minus ".": a segment can then never be "." or "..", and nothing needs
// percent-decoding before it is compared with a request path.
bool segment_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '~';
}

std::optional<std::string> path_problem(std::string_view path) {
    if (path.size() > 256) return "the path prefix is longer than 256 characters";
    std::string_view rest = path;
    while (!rest.empty()) {
        rest.remove_prefix(1);   // the "/"
        const auto slash = rest.find('/');
        const auto segment = rest.substr(0, slash);
        if (segment.empty()) return "the path prefix has an empty segment (\"//\")";
        for (char c : segment)
            if (!segment_char(static_cast<unsigned char>(c)))
                return "the path prefix may hold only letters, digits, '-', '_' and '~' between '/'";
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash);
    }
    return std::nullopt;
}

}  // namespace

std::string PublicUrl::hook_path(std::string_view route) const {
    return path_prefix + std::string(kHooks) + std::string(route);
}

std::string PublicUrl::hook_url(std::string_view route) const {
    // The origin is normalized with an explicit port; Rollout is given it as is (a valid URL either way).
    return origin + hook_path(route);
}

Result<PublicUrl> parse_public_url(std::string_view text) {
    const auto fail = [](std::string why) { return Result<PublicUrl>(invalid_argument(std::move(why))); };
    if (text.find_first_of("?#") != std::string_view::npos) return fail("must not have a query or fragment");
    const auto sep = text.find("://");
    if (sep == std::string_view::npos) return fail("must be an absolute URL (https://host[:port][/path])");
    const auto after = text.substr(sep + 3);
    const auto slash = after.find('/');
    const auto authority = after.substr(0, slash);
    if (authority.find('@') != std::string_view::npos) return fail("must not hold userinfo (user@)");
    std::string path(slash == std::string_view::npos ? std::string_view{} : after.substr(slash));
    if (!path.empty() && path.back() == '/') path.pop_back();
    const auto origin = normalize_origin(text.substr(0, sep + 3 + authority.size()));
    if (!origin) return fail("must be https://host[:port] with an optional path (no userinfo, query or fragment)");
    if (!origin_transport_allowed(*origin)) return fail("must be https (plain http only for a loopback host)");
    if (auto bad = path_problem(path)) return fail(*bad);
    PublicUrl out;
    out.origin = *origin;
    const auto host_port = std::string_view(out.origin).substr(out.origin.find("://") + 3);
    out.host = std::string(host_port.substr(0, host_port.rfind(':')));
    out.path_prefix = std::move(path);
    return out;
}

std::optional<std::string_view> hook_route_of(std::string_view path, std::string_view path_prefix) {
    if (path.substr(0, path_prefix.size()) != path_prefix) return std::nullopt;
    path.remove_prefix(path_prefix.size());
    if (path.substr(0, kHooks.size()) != kHooks) return std::nullopt;
    path.remove_prefix(kHooks.size());
    if (path.empty() || path.find('/') != std::string_view::npos) return std::nullopt;
    return path;
}

}  // namespace rollout_mcp
