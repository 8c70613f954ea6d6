// [server] public_url: what the config accepts and refuses (each refusal names the key and never echoes
// the value), and how the hooks path is matched under a path prefix.
#include "server/app/config.hpp"
#include "server/app/public_url.hpp"
#include "tests/server/config_file.hpp"

#include <gtest/gtest.h>

namespace rollout_mcp {
namespace {
using test::error_of;

TEST(PublicUrl, EmptyByDefault) { EXPECT_EQ(load_config("", {}).server.public_url, ""); }

TEST(PublicUrl, AcceptsAnOriginWithAnOptionalPrefix) {
    auto c = load_config("", {"ROLLOUT_MCP_SERVER_PUBLIC_URL=https://MCP.Example.com/Team-1/hooks_in/"});
    auto url = parse_public_url(c.server.public_url);
    ASSERT_TRUE(url) << url.error().message;
    EXPECT_EQ(url->origin, "https://mcp.example.com:443");
    EXPECT_EQ(url->host, "mcp.example.com");
    EXPECT_EQ(url->path_prefix, "/Team-1/hooks_in");
    EXPECT_EQ(url->hook_url("abc"), "https://mcp.example.com:443/Team-1/hooks_in/hooks/rollout/abc");
    auto bare = parse_public_url("https://a.example:8443");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->path_prefix, "");
    EXPECT_EQ(bare->hook_path("r"), "/hooks/rollout/r");
    for (const char* loopback : {"http://127.0.0.1:9000", "http://localhost:1/x", "http://[::1]:80"})
        EXPECT_TRUE(parse_public_url(loopback)) << loopback;
    auto v6 = parse_public_url("http://[::1]:80");
    EXPECT_EQ(v6->host, "[::1]");
}

TEST(PublicUrl, RefusesWhatIsNotAPublicOriginAndPath) {
    for (const char* bad : {"http://mcp.example.com", "http://10.0.0.1", "ftp://x.example", "x.example", "https://",
                            "https://u:secret@x.example", "https://x.example/?a=1", "https://x.example/#f",
                            "https://x.example?q", "https://x.example/a//b", "https://x.example/a/../b",
                            "https://x.example/./b", "https://x.example/%2e%2e", "https://x.example/a b",
                            "https://x.example:0", "https://x..example", "https://x.example/a.b"}) {
        auto what = error_of(std::string("[server]\npublic_url = \"") + bad + "\"");
        EXPECT_NE(what.find("server.public_url"), std::string::npos) << bad << " -> " << what;
        EXPECT_EQ(what.find("secret"), std::string::npos) << what;   // the value is never echoed
    }
    EXPECT_FALSE(parse_public_url("https://x.example/" + std::string(300, 'a')));
}

TEST(PublicUrl, HookRouteMatchesOnlyOneSegmentUnderThePrefix) {
    EXPECT_EQ(hook_route_of("/hooks/rollout/abc", ""), "abc");
    EXPECT_EQ(hook_route_of("/p/q/hooks/rollout/abc", "/p/q"), "abc");
    EXPECT_FALSE(hook_route_of("/hooks/rollout/abc", "/p"));
    EXPECT_FALSE(hook_route_of("/p/hooks/rollout/", "/p"));
    EXPECT_FALSE(hook_route_of("/p/hooks/rollout/a/b", "/p"));
    EXPECT_FALSE(hook_route_of("/px/hooks/rollout/a", "/p"));
    EXPECT_FALSE(hook_route_of("/mcp", ""));
}

}  // namespace
}  // namespace rollout_mcp
