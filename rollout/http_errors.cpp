// Rollout's error codes, Retry-After parsing, HTTP status -> typed Error mapping, and the one rule for
// upstream error text.
#include "http_pool.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace rollout_mcp::rollout {
namespace json = boost::json;

namespace {
class ErrorKindCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "rollout"; }
    std::string message(int value) const override { return std::string(to_string(static_cast<ErrorKind>(value))); }
};
}  // namespace

const std::error_category& error_kind_category() noexcept {
    static const ErrorKindCategory category;
    return category;
}

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::auth: return "auth";
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::validation: return "validation";
    case ErrorKind::rate_limited: return "rate_limited";
    case ErrorKind::not_ready: return "not_ready";
    case ErrorKind::transient: return "transient";
    case ErrorKind::permanent: return "permanent";
    }
    return "permanent";
}

ErrorKind kind_of(const Error& error) noexcept {
    return error.code.category() == error_kind_category() ? static_cast<ErrorKind>(error.code.value())
                                                          : ErrorKind::permanent;
}

bool retryable(const Error& error) noexcept {
    const ErrorKind kind = kind_of(error);
    return kind == ErrorKind::rate_limited || kind == ErrorKind::not_ready || kind == ErrorKind::transient;
}

const std::string* HttpResponse::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
}

namespace {

std::optional<std::int64_t> parse_http_date(std::string_view v) {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    auto comma = v.find(',');
    if (comma == std::string_view::npos) return std::nullopt;
    v.remove_prefix(comma + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (v.size() < 20) return std::nullopt;
    auto num = [&](std::size_t pos, std::size_t len) -> int {
        int out = -1;
        auto r = std::from_chars(v.data() + pos, v.data() + pos + len, out);
        return r.ec == std::errc{} && r.ptr == v.data() + pos + len ? out : -1;
    };
    static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const int day = num(0, 2);
    auto m = std::find(months.begin(), months.end(), v.substr(3, 3));
    const int year = num(7, 4), hh = num(12, 2), mm = num(15, 2), ss = num(18, 2);
    if (day < 1 || m == months.end() || year < 1970 || hh < 0 || mm < 0 || ss < 0 || hh > 23 || mm > 59 || ss > 60)
        return std::nullopt;
    using namespace std::chrono;
    const year_month_day ymd{std::chrono::year{year}, month{static_cast<unsigned>(m - months.begin() + 1)},
                             std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) return std::nullopt;
    return sys_days{ymd}.time_since_epoch().count() * 86400LL + hh * 3600 + mm * 60 + ss;
}

// The upstream error message of a JSON error body, or "" (an HTML error page contributes nothing).
std::string message_from_body(const std::string& body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return {};
    const auto& o = v.as_object();
    if (auto* m = o.if_contains("errorMessage"); m && m->is_string()) return std::string(m->as_string());
    if (auto* e = o.if_contains("errors"); e && e->is_array() && !e->as_array().empty()) {
        const auto& first = e->as_array().front();
        if (first.is_object())
            if (auto* m = first.as_object().if_contains("message"); m && m->is_string()) {
                std::string out(m->as_string());
                if (auto* p = first.as_object().if_contains("path"); p && p->is_string())
                    out = std::string(p->as_string()) + ": " + out;
                return out;
            }
    }
    if (auto* e = o.if_contains("error"); e && e->is_string()) return std::string(e->as_string());
    if (auto* m = o.if_contains("message")) {
        if (m->is_string()) return std::string(m->as_string());
        if (m->is_array()) {
            std::string out;
            for (const auto& s : m->as_array())
                if (s.is_string()) out += (out.empty() ? "" : "; ") + std::string(s.as_string());
            return out;
        }
    }
    return {};
}

// Without Retry-After, a spent X-RateLimit-Reset (epoch seconds, or seconds from now when small) or
// X-RateLimit-Interval-Milliseconds (GoHighLevel's burst window) says when to come back.
std::optional<std::chrono::seconds> rate_limit_reset(const HttpResponse& r, std::chrono::system_clock::time_point now) {
    auto number = [&](const char* name) -> std::optional<std::int64_t> {
        const auto* v = r.header(name);
        std::int64_t n = 0;
        if (!v || v->empty()) return std::nullopt;
        const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc{} || end != v->data() + v->size() || n < 0) return std::nullopt;
        return n;
    };
    const auto remaining = number("x-ratelimit-remaining");
    if (remaining && *remaining > 0) return std::nullopt;
    if (auto reset = number("x-ratelimit-reset")) {
        const auto t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        const std::int64_t wait = *reset > 1'000'000'000 ? *reset - t : *reset;
        return std::chrono::seconds{std::clamp<std::int64_t>(wait, 0, 24 * 3600)};
    }
    if (auto interval = number("x-ratelimit-interval-milliseconds"))
        return std::chrono::seconds{std::clamp<std::int64_t>((*interval + 999) / 1000, 0, 3600)};
    return std::nullopt;
}

}  // namespace

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
        std::int64_t s = 0;
        auto r = std::from_chars(value.data(), value.data() + value.size(), s);
        if (r.ec != std::errc{}) return std::nullopt;
        return std::chrono::seconds{std::min<std::int64_t>(s, 24 * 3600)};
    }
    auto date = parse_http_date(value);
    if (!date) return std::nullopt;
    const auto t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return std::chrono::seconds{std::clamp<std::int64_t>(*date - t, 0, 24 * 3600)};
}

std::string upstream_text(std::string_view text) {
    constexpr std::size_t cap = 300;
    std::size_t n = std::min(text.size(), cap);
    // Back off to the start of a UTF-8 sequence that would be cut (continuation bytes are 10xxxxxx).
    if (n < text.size())
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    std::string out(text.substr(0, n));
    std::replace_if(out.begin(), out.end(), [](unsigned char c) { return c < 0x20 || c == 0x7F; }, ' ');
    return out;
}

Error error_from_response(const HttpResponse& r, std::chrono::system_clock::time_point now) {
    Error e;
    e.status = r.status;
    e.message = "Rollout answered HTTP " + std::to_string(r.status);
    e.upstream = upstream_text(message_from_body(r.body));
    if (r.status == 400 || r.status == 422) e.code = ErrorKind::validation;
    else if (r.status == 401 || r.status == 403) e.code = ErrorKind::auth;
    else if (r.status == 404) e.code = ErrorKind::not_found;
    else if (r.status == 409) e.code = ErrorKind::not_ready;
    else if (r.status == 429) e.code = ErrorKind::rate_limited;
    else if (r.status == 408 || r.status >= 500) e.code = ErrorKind::transient;
    else e.code = ErrorKind::permanent;
    e.uncertain = r.status >= 500;  // the server may have applied the write before failing
    if (auto* ra = r.header("retry-after")) e.retry_after = parse_retry_after(*ra, now);
    if (!e.retry_after && e.code == ErrorKind::rate_limited) e.retry_after = rate_limit_reset(r, now);
    if (e.code == ErrorKind::not_ready && !e.retry_after) e.retry_after = std::chrono::seconds{30};
    return e;
}

}  // namespace rollout_mcp::rollout
