// JSON-lines logger; one write(2) per line so lines from several threads never interleave.
#include "server/app/log.hpp"

#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace rollout_mcp::log {
namespace {
std::atomic<Level> g_level{Level::info};
constexpr const char* kNames[] = {"debug", "info", "warning", "error"};

std::string timestamp() {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto t = system_clock::to_time_t(now);
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}
}  // namespace

void set_level(Level level) { g_level.store(level); }

bool set_level(std::string_view name) {
    for (int i = 0; i < 4; ++i)
        if (name == kNames[i]) {
            set_level(static_cast<Level>(i));
            return true;
        }
    return false;
}

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view message, boost::json::object fields) {
    if (!enabled(level)) return;
    boost::json::object line;
    line["time"] = timestamp();
    line["level"] = kNames[static_cast<int>(level)];
    line["message"] = message;
    for (auto& [k, v] : fields) line[k] = std::move(v);
    std::string text = boost::json::serialize(line);
    text += '\n';
    std::size_t off = 0;
    while (off < text.size()) {
        auto n = ::write(STDERR_FILENO, text.data() + off, text.size() - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
    }
}

}  // namespace rollout_mcp::log
