// Checks of a PostgreSQL connection string (storage.postgresql_url) that need no connection: whether it is
// a libpq URI, and whether it carries a password. Used by config.cpp; nothing here keeps or shows the value.
#pragma once

#include <string_view>

namespace rollout_mcp {

// True when `url` starts with "postgresql://" or "postgres://", the URI prefixes libpq recognizes (as it
// does, case-sensitively).
bool is_postgresql_uri(std::string_view url);

// True when libpq could take a password from `conninfo`: a URI's userinfo "user:password@", or a
// "password=" (also "sslpassword=") parameter of a URI query or a keyword/value string, percent-encoded or
// not, in any letter case. Errs on the side of "yes": the caller refuses the value, it never repairs it.
bool postgresql_conninfo_has_password(std::string_view conninfo);

}  // namespace rollout_mcp
