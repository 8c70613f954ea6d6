// Structured logging: one JSON object per line on stderr. Secrets never reach it: callers pass only
// plain fields, and the secret types of crypto/ have no conversion to text.
#pragma once

#include <boost/json/object.hpp>

#include <string_view>

namespace rollout_mcp::log {

enum class Level { debug, info, warning, error };

void set_level(Level level);
bool set_level(std::string_view name);   // false for an unknown name
bool enabled(Level level);
void write(Level level, std::string_view message, boost::json::object fields = {});

inline void debug(std::string_view m, boost::json::object f = {}) { write(Level::debug, m, std::move(f)); }
inline void info(std::string_view m, boost::json::object f = {}) { write(Level::info, m, std::move(f)); }
inline void warning(std::string_view m, boost::json::object f = {}) { write(Level::warning, m, std::move(f)); }
inline void error(std::string_view m, boost::json::object f = {}) { write(Level::error, m, std::move(f)); }

}  // namespace rollout_mcp::log
