// Fuzz target: what Rollout and MCP callers hand the Rollout layer. The first input byte picks the
// decoder, the rest is its input:
//   0 tour   parse_tour on the JSON text (tool arguments tourData)
//   1 feedback parse_feedback on the JSON text (feedbackData)
//   2 error  error_from_response: 2 bytes status, 1 byte: low 7 bits the length of a header value (0:
//            none), high bit set: the value is X-RateLimit-Reset with X-RateLimit-Remaining 0, else
//            Retry-After; the value, the rest the body
//   3 retry  parse_retry_after on the text (fixed "now")
//   4 jwt    jwt_expiry on the text and on a token whose claims are the text; base64url round trip
//   5 url    parse_endpoint on the text (configured Rollout base URLs)
// Properties: no crash/UB/throw; validation errors are ErrorKind::validation and name the field; accepted
// timestamps render to ISO 8601 that parses back to the same instant; error_from_response maps the status
// as documented and keeps Retry-After within [0, 24 h]; base64url decode(encode(x)) == x.
#include "fuzz_common.hpp"

#include "base/loopback.hpp"
#include "rollout/http_pool.hpp"
#include "rollout/jwt.hpp"
#include "rollout/model.hpp"

#include <boost/json/parse.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace rollout_mcp::rollout;
using rollout_mcp::Error;
using rollout_mcp::Result;
namespace json = boost::json;

using rollout_mcp::fuzz::fail;
using rollout_mcp::fuzz::finding;

// 2026-03-01T00:00:00Z, so runs are reproducible.
const auto kNow = std::chrono::system_clock::time_point{std::chrono::seconds{1772323200}};

// Finding "iso-year": parse_iso8601 accepts years 0000-9999 with any offset, so the instant can fall in
// year -1 or 10000 and utc_iso()/local_iso() (sent to the CRMs) render "-001-..." / "10000-...".
void check_timestamp(const Timestamp& t) {
    for (const std::string& text : {t.utc_iso(), t.local_iso()}) {
        const auto back = parse_iso8601(text);
        if (!back) {
            finding("iso-year", "a parsed timestamp renders as text that does not parse: " + text, t.original);
            continue;
        }
        if (back->utc_seconds != t.utc_seconds) fail("timestamp round trip moved the instant: " + text, t.original);
    }
    (void)t.plus_minutes(24 * 60);
}

template <class T>
void check_validation(const Result<T>& r, std::string_view root) {
    if (r) return;
    const auto& e = r.error();
    if (e.code != ErrorKind::validation) fail("a parse error that is not a validation error", e.message);
    if (e.message.rfind(root, 0) != 0) fail("a validation error that does not name the field", e.message);
}

void tour(std::string_view text) {
    boost::system::error_code ec;
    const auto v = json::parse(text, ec);
    if (ec) return;
    const auto r = parse_tour(v);
    check_validation(r, "tourData");
    if (!r) return;
    for (const auto& p : r->properties) {
        check_timestamp(p.visit_time);
        if (p.duration_minutes) (void)p.visit_time.plus_minutes(*p.duration_minutes);
        (void)visit_local_id(r->tour_id, p.property_id);
    }
    (void)buyer_local_id(r->buyer_id, r->tour_id);
}

void feedback(std::string_view text) {
    boost::system::error_code ec;
    const auto v = json::parse(text, ec);
    if (ec) return;
    const auto r = parse_feedback(v);
    check_validation(r, "feedbackData");
    if (!r) return;
    if (r->timestamp) check_timestamp(*r->timestamp);
    if (r->rating && !(*r->rating >= 0 && *r->rating <= 5)) fail("rating out of range accepted");
    (void)feedback_local_id(*r);
}

void error_response(std::string_view in) {
    if (in.size() < 3) return;
    HttpResponse resp;
    resp.status = static_cast<unsigned char>(in[0]) << 8 | static_cast<unsigned char>(in[1]);
    const bool rate_limit_headers = (static_cast<unsigned char>(in[2]) & 0x80) != 0;
    const std::size_t ra = std::min<std::size_t>(static_cast<unsigned char>(in[2]) & 0x7f, in.size() - 3);
    if (ra > 0 && rate_limit_headers) {
        resp.headers["x-ratelimit-reset"] = std::string(in.substr(3, ra));
        resp.headers["x-ratelimit-remaining"] = "0";
    } else if (ra > 0) {
        resp.headers["retry-after"] = std::string(in.substr(3, ra));
    }
    resp.body = std::string(in.substr(3 + ra));
    const Error e = error_from_response(resp, kNow);
    if (e.status != resp.status) fail("status not kept");
    if (e.message.empty()) fail("empty error message");
    const unsigned s = resp.status;
    const ErrorKind want = s == 400 || s == 422 ? ErrorKind::validation
                           : s == 401 || s == 403 ? ErrorKind::auth
                           : s == 404             ? ErrorKind::not_found
                           : s == 409             ? ErrorKind::not_ready
                           : s == 429             ? ErrorKind::rate_limited
                           : s == 408 || s >= 500 ? ErrorKind::transient
                                                  : ErrorKind::permanent;
    if (e.code != want) fail("status " + std::to_string(s) + " mapped to " + std::string(to_string(kind_of(e))));
    if (e.retry_after && (e.retry_after->count() < 0 || e.retry_after->count() > 24 * 3600))
        fail("retry_after out of [0, 24 h]");
    (void)e.describe();
}

void retry_after(std::string_view text) {
    const auto r = parse_retry_after(text, kNow);
    if (r && (r->count() < 0 || r->count() > 24 * 3600)) fail("parse_retry_after out of [0, 24 h]", text);
}

// Finding "jwt-exp": jwt_expiry casts a double exp (1e300) to int64_t: undefined behaviour (UBSan aborts
// inside the library, so a tolerant run skips jwt_expiry altogether).
void jwt(std::string_view text) {
    if (!rollout_mcp::fuzz::tolerated("jwt-exp")) {
        (void)jwt_expiry(text);
        // The text as the claims JSON of a token, so the fuzzer reaches the claim parsing without having
        // to invent base64url.
        (void)jwt_expiry("eyJhbGciOiJIUzUxMiJ9." + base64url_encode(text) + ".c2ln");
    }
    const auto encoded = base64url_encode(text);
    const auto decoded = base64url_decode(encoded);
    if (!decoded || *decoded != text) fail("base64url decode(encode(x)) != x", text);
    (void)base64url_decode(text);
}

void url(std::string_view text) {
    const auto r = parse_endpoint(text);
    if (!r) return;
    if (r->host.empty()) fail("parse_endpoint accepted a URL without a host", text);
    // Finding "url": Boost.URL 1.81 splits "https://h:/x" into an empty port and "http://h:1&2/x" into port 1
    // and path "&2/x"; the request line would then carry a target that is not origin-form.
    if (r->port.empty() || r->port.find_first_not_of("0123456789") != std::string::npos)
        finding("url", "parse_endpoint accepted a URL with an empty or non-numeric port", text);
    if (r->target.empty() || r->target.front() != '/')
        finding("url", "parse_endpoint produced a request target that does not start with '/'", text);
    if (!r->tls && !rollout_mcp::is_loopback_host(r->host)) fail("plain http to a non-loopback host accepted", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        switch (data[0] % 6) {
            case 0: tour(in); break;
            case 1: feedback(in); break;
            case 2: error_response(in); break;
            case 3: retry_after(in); break;
            case 4: jwt(in); break;
            case 5: url(in); break;
        }
    } catch (const std::exception& e) {
        fail(std::string("exception: ") + e.what(), in);
    }
    return 0;
}
