#include "crypto/encoding.hpp"
#include "crypto/keyring.hpp"
#include "crypto/master_key.hpp"
#include "tests/crypto/test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace rollout_mcp::crypto {
namespace {

using test::TempDir;
using test::write_file;

std::string raw_key(char fill) { return std::string(32, fill); }

std::string base64_of(const std::string& raw) {
    return to_base64(test::bytes(raw), Base64::standard);
}

// Loads expecting failure; returns the message.
std::string load_error(const MasterKeyOptions& o) {
    try {
        (void)load_master_key(o);
    } catch (const MasterKeyError& e) {
        return e.what();
    }
    ADD_FAILURE() << "load_master_key did not fail";
    return {};
}

class MasterKeyTest : public ::testing::Test {
protected:
    void SetUp() override { test::clear_key_environment(); }
    void TearDown() override { test::clear_key_environment(); }
    TempDir dir;
};

TEST_F(MasterKeyTest, LoadsRawAndBase64KeyFiles) {
    write_file(dir / "raw.key", raw_key('A'), 0600);
    write_file(dir / "b64.key", base64_of(raw_key('B')) + "\n", 0400);
    MasterKey a = load_master_key({(dir / "raw.key").string(), dir.path(), true});
    EXPECT_EQ(a.key.text(), raw_key('A'));
    EXPECT_EQ(a.source, "file " + (dir / "raw.key").string() + " (storage.master_key_file)");
    EXPECT_TRUE(a.warnings.empty());
    MasterKey b = load_master_key({(dir / "b64.key").string(), dir.path(), true});
    EXPECT_EQ(b.key.text(), raw_key('B'));
}

TEST_F(MasterKeyTest, GroupOrWorldAccessibleFileRefused) {
    for (mode_t mode : {0640, 0604, 0660, 0620}) {
        write_file(dir / "k", raw_key('A'), mode);
        const std::string msg = load_error({(dir / "k").string(), dir.path(), true});
        EXPECT_NE(msg.find((dir / "k").string()), std::string::npos) << msg;
        EXPECT_NE(msg.find("group or others"), std::string::npos) << msg;
        EXPECT_NE(msg.find("chmod 600"), std::string::npos) << msg;
    }
}

TEST_F(MasterKeyTest, WrongSizeOrFormatRefusedWithoutEchoingContent) {
    const std::string bad[] = {raw_key('A').substr(1), raw_key('A') + "A",
                               base64_of(raw_key('A')).substr(1), "not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                               std::string(4096, 'z')};
    for (const std::string& content : bad) {
        write_file(dir / "k", content, 0600);
        const std::string msg = load_error({(dir / "k").string(), dir.path(), true});
        EXPECT_NE(msg.find("32 raw bytes"), std::string::npos) << msg;
        if (content.size() >= 8) {
            EXPECT_EQ(msg.find(content.substr(0, 8)), std::string::npos);
        }
    }
}

TEST_F(MasterKeyTest, MissingConfiguredFileIsAnErrorNamingIt) {
    const std::string msg = load_error({(dir / "nope.key").string(), dir.path(), true});
    EXPECT_NE(msg.find("nope.key"), std::string::npos) << msg;
    EXPECT_FALSE(std::filesystem::exists(dir / "master.key"));  // no silent fallback
}

TEST_F(MasterKeyTest, EnvFileUsedAndConflictWithConfigRefused) {
    write_file(dir / "env.key", raw_key('E'), 0600);
    write_file(dir / "cfg.key", raw_key('C'), 0600);
    ::setenv("ROLLOUT_MCP_MASTER_KEY_FILE", (dir / "env.key").c_str(), 1);
    MasterKey k = load_master_key({"", dir.path(), false});
    EXPECT_EQ(k.key.text(), raw_key('E'));
    EXPECT_NE(k.source.find("ROLLOUT_MCP_MASTER_KEY_FILE"), std::string::npos);
    const std::string msg = load_error({(dir / "cfg.key").string(), dir.path(), false});
    EXPECT_NE(msg.find("set only one"), std::string::npos) << msg;
}

TEST_F(MasterKeyTest, SystemdCredentialUsedWhenPresent) {
    std::filesystem::create_directory(dir / "creds");
    ::setenv("CREDENTIALS_DIRECTORY", (dir / "creds").c_str(), 1);
    ::setenv("ROLLOUT_MCP_MASTER_KEY", base64_of(raw_key('V')).c_str(), 1);
    // No master_key credential: falls through to the next source.
    EXPECT_EQ(load_master_key({"", dir.path(), false}).key.text(), raw_key('V'));
    write_file(dir / "creds" / "master_key", raw_key('S'), 0400);
    MasterKey k = load_master_key({"", dir.path(), false});
    EXPECT_EQ(k.key.text(), raw_key('S'));
    EXPECT_EQ(k.source, "systemd credential " + (dir / "creds" / "master_key").string());
}

TEST_F(MasterKeyTest, EnvKeyIsRemovedFromTheEnvironment) {
    const std::string value = base64_of(raw_key('K'));
    ::setenv("ROLLOUT_MCP_MASTER_KEY", value.c_str(), 1);
    MasterKey k = load_master_key({"", dir.path(), false});
    EXPECT_EQ(k.key.text(), raw_key('K'));
    EXPECT_EQ(k.source, "env ROLLOUT_MCP_MASTER_KEY");
    EXPECT_EQ(std::getenv("ROLLOUT_MCP_MASTER_KEY"), nullptr);
    for (char** e = environ; *e != nullptr; ++e)
        EXPECT_EQ(std::string(*e).find(value), std::string::npos);
}

TEST_F(MasterKeyTest, EnvKeyRemovedEvenWhenAHigherSourceWins) {
    write_file(dir / "k", raw_key('F'), 0600);
    ::setenv("ROLLOUT_MCP_MASTER_KEY", base64_of(raw_key('K')).c_str(), 1);
    MasterKey k = load_master_key({(dir / "k").string(), dir.path(), true});
    EXPECT_EQ(k.key.text(), raw_key('F'));
    EXPECT_EQ(std::getenv("ROLLOUT_MCP_MASTER_KEY"), nullptr);
    ASSERT_EQ(k.warnings.size(), 1u);
    EXPECT_NE(k.warnings[0].find("ignored"), std::string::npos);
}

TEST_F(MasterKeyTest, InvalidEnvKeyRefusedAndStillRemoved) {
    ::setenv("ROLLOUT_MCP_MASTER_KEY", "c2hvcnQ=", 1);
    const std::string msg = load_error({"", dir.path(), true});
    EXPECT_NE(msg.find("ROLLOUT_MCP_MASTER_KEY"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("c2hvcnQ"), std::string::npos);
    EXPECT_EQ(std::getenv("ROLLOUT_MCP_MASTER_KEY"), nullptr);
    EXPECT_FALSE(std::filesystem::exists(dir / "master.key"));
}

TEST_F(MasterKeyTest, LoopbackGeneratesPrivateDevelopmentKeyOnce) {
    const auto data = dir / "data";
    MasterKey first = load_master_key({"", data, true});
    ASSERT_EQ(first.key.size(), kKeyBytes);
    EXPECT_EQ(test::file_mode(data / "master.key"), 0600u);
    EXPECT_EQ(test::file_mode(data), 0700u);
    ASSERT_FALSE(first.warnings.empty());
    EXPECT_NE(first.warnings[0].find("generated"), std::string::npos);
    EXPECT_NE(first.source.find(data / "master.key"), std::string::npos);
    MasterKey again = load_master_key({"", data, true});
    EXPECT_TRUE(again.key.equals(first.key.view()));
    EXPECT_FALSE(again.warnings.empty());
    // Only the key file is left behind (no temporary files).
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(data), {}), 1);
}

TEST_F(MasterKeyTest, NonLoopbackWithoutKeyRefused) {
    const std::string msg = load_error({"", dir / "data", false});
    EXPECT_NE(msg.find("non-loopback"), std::string::npos) << msg;
    EXPECT_NE(msg.find("master_key_file"), std::string::npos) << msg;
    EXPECT_FALSE(std::filesystem::exists(dir / "data" / "master.key"));
}

// Instances sharing a PostgreSQL database need one configured key: no development key, not even an
// existing one, and on loopback too.
TEST_F(MasterKeyTest, PostgresqlWithoutKeyRefused) {
    MasterKeyOptions o{"", dir / "data", true};
    o.storage_is_postgresql = true;
    const std::string msg = load_error(o);
    for (const char* part : {"postgresql", "same on every instance", "storage.master_key_file",
                             "ROLLOUT_MCP_MASTER_KEY_FILE", "$CREDENTIALS_DIRECTORY/master_key",
                             "ROLLOUT_MCP_MASTER_KEY"})
        EXPECT_NE(msg.find(part), std::string::npos) << part << " -> " << msg;
    EXPECT_FALSE(std::filesystem::exists(dir / "data" / "master.key"));
    (void)load_master_key({"", dir / "data", true});   // SQLite: the development key is generated
    ASSERT_TRUE(std::filesystem::exists(dir / "data" / "master.key"));
    EXPECT_NE(load_error(o).find("postgresql"), std::string::npos);
}

TEST_F(MasterKeyTest, PostgresqlUsesAConfiguredKey) {
    MasterKeyOptions o{"", dir.path(), true};
    o.storage_is_postgresql = true;
    ::setenv("ROLLOUT_MCP_MASTER_KEY", base64_of(raw_key('P')).c_str(), 1);
    EXPECT_EQ(load_master_key(o).key.text(), raw_key('P'));
    write_file(dir / "k", raw_key('F'), 0600);
    o.master_key_file = (dir / "k").string();
    MasterKey k = load_master_key(o);
    EXPECT_EQ(k.key.text(), raw_key('F'));
    EXPECT_TRUE(k.warnings.empty());
}

TEST_F(MasterKeyTest, CreateKeyFileNeverOverwrites) {
    auto k = create_master_key_file(dir / "new.key");
    ASSERT_TRUE(k);
    EXPECT_EQ(test::file_mode(dir / "new.key"), 0600u);
    EXPECT_FALSE(create_master_key_file(dir / "new.key"));
    EXPECT_TRUE(read_master_key_file(dir / "new.key").key.equals(k->view()));
}

// /readyz shows only the kind of key source: a path would tell any client where the key lives.
TEST(MasterKeyKind, NamesTheKindWithoutThePath) {
    EXPECT_EQ(master_key_kind("file /etc/rollout-mcp/master.key (storage.master_key_file)"), "file");
    EXPECT_EQ(master_key_kind("file /k (ROLLOUT_MCP_MASTER_KEY_FILE)"), "file");
    EXPECT_EQ(master_key_kind("systemd credential /run/credentials/x/master_key"), "systemd-credential");
    EXPECT_EQ(master_key_kind("env ROLLOUT_MCP_MASTER_KEY"), "environment");
    EXPECT_EQ(master_key_kind("generated development key file /data/master.key"), "development-key");
    EXPECT_EQ(master_key_kind("/some/path"), "other");
}

}  // namespace
}  // namespace rollout_mcp::crypto
