// [storage] backend and postgresql_url: the backend choice, the URL's form, no password from the file
// (the environment override may carry one), and no error message that repeats the URL.
#include "server/app/config.hpp"
#include "server/app/postgresql_url.hpp"
#include "tests/server/config_file.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace rollout_mcp {
namespace {

using test::ConfigFile;
using test::env_error_of;
using test::error_of;

constexpr const char* kUrlEnv = "ROLLOUT_MCP_STORAGE_POSTGRESQL_URL=";

std::string postgresql_file(const std::string& url) {
    return "[storage]\nbackend = \"postgresql\"\npostgresql_url = \"" + url + "\"\n";
}

TEST(StorageConfig, DefaultBackendIsSqlite) {
    const Config c = load_config("", {});
    EXPECT_EQ(c.storage.backend, StorageBackend::sqlite);
    EXPECT_EQ(c.storage.postgresql_url, "");
    EXPECT_STREQ(storage_backend_name(c.storage.backend), "sqlite");
    EXPECT_STREQ(storage_backend_name(StorageBackend::postgresql), "postgresql");
}

TEST(StorageConfig, PostgresqlAcceptedFromFileAndEnvironment) {
    for (const std::string url : {"postgresql://rollout@db.internal:5432/rollout?sslmode=verify-full",
                                  "postgres://db.internal/rollout", "postgresql:///rollout?host=/run/postgresql",
                                  "postgresql://a:5432,b:5433/rollout?passfile=/etc/rollout-mcp/pgpass"}) {
        ConfigFile file(postgresql_file(url));
        const Config c = load_config(file.path(), {});
        EXPECT_EQ(c.storage.backend, StorageBackend::postgresql) << url;
        EXPECT_EQ(c.storage.postgresql_url, url);
    }
    const Config e = load_config("", {"ROLLOUT_MCP_STORAGE_BACKEND=postgresql", kUrlEnv + std::string("postgres://h/d")});
    EXPECT_EQ(e.storage.backend, StorageBackend::postgresql);
    EXPECT_EQ(e.storage.postgresql_url, "postgres://h/d");
}

TEST(StorageConfig, UnknownBackendRefusedNamingTheKey) {
    for (const char* name : {"mysql", "postgres", "SQLite", ""}) {
        const std::string what = error_of(std::string("[storage]\nbackend = \"") + name + "\"\n");
        EXPECT_NE(what.find("storage.backend"), std::string::npos) << name << " -> " << what;
        EXPECT_NE(what.find("\"sqlite\" or \"postgresql\""), std::string::npos) << what;
    }
    EXPECT_NE(error_of("[storage]\nbackend = 1\n").find("must be a string"), std::string::npos);
    const std::string env = env_error_of({"ROLLOUT_MCP_STORAGE_BACKEND=oracle"});
    EXPECT_NE(env.find("environment ROLLOUT_MCP_STORAGE_BACKEND"), std::string::npos) << env;
    EXPECT_NE(env.find("oracle"), std::string::npos) << env;   // a mistyped word is shown
    // A connection string put in the wrong key is not.
    const std::string pasted = env_error_of({"ROLLOUT_MCP_STORAGE_BACKEND=postgresql://u:hunter2@h/d"});
    EXPECT_NE(pasted.find("backend"), std::string::npos) << pasted;
    EXPECT_EQ(pasted.find("hunter2"), std::string::npos) << pasted;
}

TEST(StorageConfig, PostgresqlWithoutUrlRefused) {
    for (const std::string& what : {error_of("[storage]\nbackend = \"postgresql\"\n"),
                                    env_error_of({"ROLLOUT_MCP_STORAGE_BACKEND=postgresql"})}) {
        EXPECT_NE(what.find("storage.postgresql_url"), std::string::npos) << what;
        EXPECT_NE(what.find("required"), std::string::npos) << what;
    }
    // The URL alone does not switch the backend.
    EXPECT_EQ(load_config("", {kUrlEnv + std::string("postgresql://h/d")}).storage.backend, StorageBackend::sqlite);
}

TEST(StorageConfig, NotAUriRefusedWithoutRepeatingIt) {
    for (const std::string url : {"host=db user=rollout", "http://db/rollout", "POSTGRESQL://db/x", "db.internal"}) {
        const std::string what = error_of(postgresql_file(url));
        EXPECT_NE(what.find("storage.postgresql_url"), std::string::npos) << url << " -> " << what;
        EXPECT_NE(what.find("postgresql://"), std::string::npos) << what;
        EXPECT_EQ(what.find(url), std::string::npos) << what;
    }
}

// Every way libpq could read a password, as written in a config file: refused, the fix named, the
// secret never repeated.
TEST(StorageConfig, PasswordInTheFileRefused) {
    for (const std::string url :
         {"postgresql://rollout:hunter2@db/rollout", "postgres://rollout:hunter2@db:5432/rollout",
          "postgresql://rollout:@db/rollout", "postgresql://db/rollout?password=hunter2",
          "postgresql://db/rollout?sslmode=require&password=hunter2", "postgresql://db/rollout?pass%77ord=hunter2",
          "postgresql://db/rollout?PASSWORD=hunter2", "postgresql://db/rollout?sslpassword=hunter2",
          "host=db user=rollout password=hunter2", "host=db password = hunter2"}) {
        const std::string what = error_of(postgresql_file(url));
        EXPECT_NE(what.find("storage.postgresql_url"), std::string::npos) << url << " -> " << what;
        EXPECT_NE(what.find("password"), std::string::npos) << what;
        for (const char* fix : {"PGPASSFILE", "PGPASSWORD", "ROLLOUT_MCP_STORAGE_POSTGRESQL_URL"})
            EXPECT_NE(what.find(fix), std::string::npos) << fix << " -> " << what;
        EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
    }
    // Refused even with the sqlite backend, and even when the environment overrides it: the file holds it.
    EXPECT_NE(error_of("[storage]\npostgresql_url = \"postgresql://u:hunter2@h/d\"\n").find("storage.postgresql_url"),
              std::string::npos);
    EXPECT_NE(error_of(postgresql_file("postgresql://u:hunter2@h/d"), {kUrlEnv + std::string("postgresql://u@h/d")})
                  .find("password"),
              std::string::npos);
}

TEST(StorageConfig, EnvironmentOverridesTheFileAndMayCarryAPassword) {
    ConfigFile file(postgresql_file("postgresql://rollout@db/rollout"));
    const std::string secret_url = "postgresql://rollout:hunter2@db-primary/rollout?sslmode=verify-full";
    const Config c = load_config(file.path(), {kUrlEnv + secret_url});
    EXPECT_EQ(c.storage.backend, StorageBackend::postgresql);
    EXPECT_EQ(c.storage.postgresql_url, secret_url);
    EXPECT_EQ(load_config("", {"ROLLOUT_MCP_STORAGE_BACKEND=postgresql", kUrlEnv + std::string("postgres://h/d?password=x")})
                  .storage.postgresql_url,
              "postgres://h/d?password=x");
}

// An error elsewhere in the config, with a password-carrying URL set: the message holds no part of it.
TEST(StorageConfig, ErrorMessagesNeverHoldTheUrl) {
    const std::string secret_url = "postgresql://rollout:hunter2@db/rollout";
    for (const std::string& what :
         {env_error_of({"ROLLOUT_MCP_STORAGE_BACKEND=postgresql", kUrlEnv + secret_url, "ROLLOUT_MCP_LOG_LEVEL=loud"}),
          env_error_of({"ROLLOUT_MCP_STORAGE_BACKEND=postgresql", kUrlEnv + std::string("host=db password=hunter2")}),
          error_of(postgresql_file(secret_url)), error_of(postgresql_file("x:hunter2@db"))}) {
        EXPECT_NE(what, "");
        EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
    }
}

TEST(PostgresqlUrl, PasswordDetection) {
    for (const char* s : {"postgresql://u:p@h/d", "postgres://u:@h", "postgresql://h/d?a=1&password=p",
                          "postgresql://h/d?Pass%57ord=p", "password=p", "host=h  password\t= 'p q'",
                          "postgresql://h:5432?x=a@b"})   // libpq reads "5432?x=a" as the password here
        EXPECT_TRUE(postgresql_conninfo_has_password(s)) << s;
    for (const char* s : {"", "postgresql://u@h:5432/d", "postgresql://h:5432/d?passfile=/p", "postgres://h/d?x=%zz",
                          "postgresql://h/a:b@c", "host=h user=u passfile=/p", "%"})
        EXPECT_FALSE(postgresql_conninfo_has_password(s)) << s;
    EXPECT_TRUE(is_postgresql_uri("postgresql://h"));
    EXPECT_TRUE(is_postgresql_uri("postgres://"));
    EXPECT_FALSE(is_postgresql_uri("postgresql:/h"));
    EXPECT_FALSE(is_postgresql_uri("Postgres://h"));
}

// config.example.toml sets both keys on active lines, at their defaults.
TEST(StorageConfig, ExampleFileShowsTheKeys) {
    std::ifstream in(std::string(ROLLOUT_MCP_SOURCE_DIR) + "/config.example.toml");
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_NE(text.find("\nbackend = \"sqlite\"\n"), std::string::npos);
    EXPECT_NE(text.find("\npostgresql_url = \"\"\n"), std::string::npos);
}

}  // namespace
}  // namespace rollout_mcp
