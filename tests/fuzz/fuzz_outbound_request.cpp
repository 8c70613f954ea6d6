// Fuzz target: the outbound request builder, the one place every request to Rollout is put together.
// Input: byte 0 picks the method; the rest is split at 0xFF bytes into
//   URL, body, then header name / value pairs.
// Property (tests/rollout/outbound_property.hpp, shared with the unit test over hostile inputs): if the
// builder accepts, the serialized bytes parse back with Beast's request_parser as exactly ONE request, with
// no bytes left over, the URL's target, the same body and the same header values; a refusal is permanent,
// status 0, and does not echo the value. No sockets.
#include "fuzz_common.hpp"

#include "tests/rollout/outbound_property.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {
using namespace rollout_mcp::rollout;
namespace http = boost::beast::http;

constexpr std::array<http::verb, 5> kMethods = {http::verb::get, http::verb::post, http::verb::put,
                                                http::verb::patch, http::verb::delete_};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= in.size(); ++i)
        if (i == in.size() || static_cast<unsigned char>(in[i]) == 0xFF) {
            parts.emplace_back(in.substr(start, i - start));
            start = i + 1;
        }
    HttpRequest request;
    request.method = kMethods[data[0] % kMethods.size()];
    request.url = parts.size() > 0 ? parts[0] : "";
    request.body = parts.size() > 1 ? parts[1] : "";
    for (std::size_t i = 2; i + 1 < parts.size(); i += 2) request.headers.emplace_back(parts[i], parts[i + 1]);
    try {
        if (auto violation = rollout_mcp::rollout::test::outbound_property_violation(request))
            rollout_mcp::fuzz::fail(*violation, std::string(in));
    } catch (const std::exception& e) {
        rollout_mcp::fuzz::fail("the request builder threw", e.what());
    }
    return 0;
}
