// Canonical JSON: keys sorted by their bytes, values serialized by Boost.JSON.
#include "server/tools/json_canonical.hpp"

#include <boost/json/serialize.hpp>
#include <sodium.h>

#include <algorithm>

namespace rollout_mcp {
namespace json = boost::json;

void append_canonical_json(const json::value& v, std::string& out) {
    if (v.is_object()) {
        std::vector<std::pair<std::string_view, const json::value*>> items;
        for (const auto& [k, x] : v.get_object()) items.emplace_back(k, &x);
        std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i) out += ',';
            out += json::serialize(json::value(json::string(items[i].first)));
            out += ':';
            append_canonical_json(*items[i].second, out);
        }
        out += '}';
    } else if (v.is_array()) {
        out += '[';
        bool first = true;
        for (const auto& x : v.get_array()) {
            if (!first) out += ',';
            first = false;
            append_canonical_json(x, out);
        }
        out += ']';
    } else {
        out += json::serialize(v);
    }
}

std::string canonical_json(const json::value& v) {
    std::string out;
    append_canonical_json(v, out);
    return out;
}

std::vector<unsigned char> canonical_hash(std::string_view domain, const json::value& v) {
    std::string text(domain);
    text += '\n';
    append_canonical_json(v, text);
    std::vector<unsigned char> out(crypto_generichash_BYTES);
    crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                       nullptr, 0);
    return out;
}

}  // namespace rollout_mcp
