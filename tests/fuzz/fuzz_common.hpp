// What every harness shares: reporting a violated property (abort, so libFuzzer keeps the input) and the
// list of known findings a long run may tolerate until the fix lands.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace rollout_mcp::fuzz {

[[noreturn]] inline void fail(std::string_view what, std::string_view detail = {}) {
    std::fprintf(stderr, "\n*** fuzz property violated: %.*s\n%.*s\n", static_cast<int>(what.size()), what.data(),
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

inline std::string what_of(std::exception_ptr ep) {
    try {
        std::rethrow_exception(ep);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "non-standard exception";
    }
}

// ROLLOUT_MCP_FUZZ_TOLERATE="id,id": findings reported to the code owners (tests/fuzz/README.md lists the
// ids) that a run should step over instead of stopping at, so it can look for the next one. Empty by
// default: CI stops at every known finding until it is fixed.
inline bool tolerated(std::string_view id) {
    static const std::string list = [] {
        const char* v = std::getenv("ROLLOUT_MCP_FUZZ_TOLERATE");
        return "," + std::string(v ? v : "") + ",";
    }();
    return list.find("," + std::string(id) + ",") != std::string::npos;
}

// `fail` unless finding `id` is tolerated.
inline void finding(std::string_view id, std::string_view what, std::string_view detail = {}) {
    if (!tolerated(id)) fail(std::string("[") + std::string(id) + "] " + std::string(what), detail);
}

}  // namespace rollout_mcp::fuzz
