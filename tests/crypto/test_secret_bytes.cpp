#include "crypto/encoding.hpp"
#include "crypto/secret_bytes.hpp"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ostream>
#include <string>
#include <type_traits>

namespace rollout_mcp::crypto {
namespace {

template <class T>
concept Streamable = requires(std::ostream& os, const T& t) { os << t; };

// The type itself must make logging a secret impossible, not just discouraged.
static_assert(!Streamable<SecretBytes>);
static_assert(!std::is_convertible_v<SecretBytes, std::string>);
static_assert(!std::is_convertible_v<SecretBytes, std::string_view>);
static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);

TEST(SecretBytes, StartsZeroedWithRequestedSize) {
    SecretBytes s(64);
    ASSERT_EQ(s.size(), 64u);
    for (unsigned char c : s.view()) EXPECT_EQ(c, 0);
    EXPECT_TRUE(SecretBytes().empty());
}

TEST(SecretBytes, MoveTransfersOwnershipAndEmptiesSource) {
    SecretBytes a = SecretBytes::copy_of(std::string_view("hunter2"));
    const unsigned char* p = a.data();
    SecretBytes b = std::move(a);
    EXPECT_EQ(b.data(), p);
    EXPECT_EQ(b.text(), "hunter2");
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_EQ(a.data(), nullptr);
    SecretBytes c = SecretBytes::random(8);
    c = std::move(b);
    EXPECT_EQ(c.text(), "hunter2");
}

TEST(SecretBytes, EqualsComparesContentAndSize) {
    const SecretBytes a = SecretBytes::copy_of(std::string_view("abc"));
    const unsigned char same[] = {'a', 'b', 'c'};
    const unsigned char other[] = {'a', 'b', 'd'};
    EXPECT_TRUE(a.equals(same));
    EXPECT_FALSE(a.equals(other));
    EXPECT_FALSE(a.equals(std::span<const unsigned char>(same, 2)));
}

TEST(SecretBytes, RandomBuffersDiffer) {
    const SecretBytes a = SecretBytes::random(32);
    const SecretBytes b = SecretBytes::random(32);
    EXPECT_FALSE(a.equals(b.view()));
}

TEST(SecretBytes, ResetReleasesNow) {
    SecretBytes a = SecretBytes::random(32);
    a.reset();
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(a.data(), nullptr);
}

TEST(Base64, SecretRoundTripIsStrict) {
    const SecretBytes key = SecretBytes::random(32);
    const SecretBytes text = secret_to_base64(key.view(), Base64::standard);
    EXPECT_EQ(text.size(), 44u);
    auto back = secret_from_base64(text.text(), 32);
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(back->equals(key.view()));
    EXPECT_FALSE(secret_from_base64(text.text(), 31).has_value());  // wrong length
    EXPECT_FALSE(secret_from_base64(std::string(text.text()) + "AAAA", 32).has_value());
    EXPECT_FALSE(secret_from_base64(std::string(43, '!') + "=", 32).has_value());
    EXPECT_FALSE(secret_from_base64("", 32).has_value());
}

TEST(Hardening, DisableCoreDumpsSetsLimitAndDumpable) {
    // In a child, so the test runner itself stays debuggable.
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int code = 0;
        try {
            disable_core_dumps();
            rlimit rl{};
            ::getrlimit(RLIMIT_CORE, &rl);
            if (rl.rlim_cur != 0 || rl.rlim_max != 0) code = 2;
            if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) code = 3;
        } catch (...) {
            code = 4;
        }
        ::_exit(code);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace rollout_mcp::crypto
