// ASCII case folding for protocol text (schemes, host names, header names, media types, e-mail addresses
// compared by the CRMs' rules): locale-independent, bytes >= 0x80 unchanged. The one copy; every layer uses it.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace rollout_mcp {

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) { return ascii_lower(c); });
    return out;
}

constexpr bool ascii_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

}  // namespace rollout_mcp
