// Fuzz target: opening a sealed credential blob as read back from the database (crypto::open).
// The keyring holds data keys 1 and 2 (fixed bytes, so crashes reproduce). First input byte:
//   even: everything from the input: key id (4 bytes), row identity (3 length-prefixed fields),
//         nonce (1 length byte), ciphertext (the rest)
//   odd:  a genuine blob sealed at start-up, XOR-ed with the input (key id, nonce, ciphertext, optionally
//         truncated or extended, optionally another row)
// Properties: open never crashes or throws; it fails with unknown_key_id / malformed /
// authentication_failed exactly as documented, and only the untouched genuine blob opens (to its
// plaintext); error messages about an altered genuine blob never contain its plaintext.
#include "fuzz_common.hpp"

#include "crypto/keyring.hpp"
#include "crypto/seal.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rollout_mcp::crypto;

using rollout_mcp::fuzz::fail;

constexpr std::string_view kPlain = "cred_fuzz_plaintext_0123456789";
const RowIdentity kRow{"t_fuzz", "crm_connection", "hubspot"};

struct Fixture {
    Keyring keys;
    SealedSecret genuine;
    Fixture() {
        std::vector<unsigned char> k1(kKeyBytes, 0x11), k2(kKeyBytes, 0x22);
        keys.add(1, SecretBytes::copy_of(std::span<const unsigned char>(k1)));
        keys.add(2, SecretBytes::copy_of(std::span<const unsigned char>(k2)));
        keys.set_active(2);
        genuine = seal(keys, kRow, std::span(reinterpret_cast<const unsigned char*>(kPlain.data()), kPlain.size()));
    }
};

const Fixture& fixture() {
    static const Fixture* f = new Fixture;
    return *f;
}

void check(const Keyring& keys, const RowIdentity& row, KeyId key_id, std::span<const unsigned char> nonce,
           std::span<const unsigned char> ciphertext, bool genuine, bool tampered) {
    rollout_mcp::Result<SecretBytes> r = [&]() -> rollout_mcp::Result<SecretBytes> {
        try {
            return open(keys, row, key_id, nonce, ciphertext);
        } catch (const std::exception& e) {
            fail(std::string("open threw: ") + e.what());
        }
    }();
    if (genuine) {
        if (!r) fail("the genuine blob did not open: " + r.error().message);
        if (r->text() != kPlain) fail("the genuine blob opened to other bytes");
        return;
    }
    if (r) fail("a forged or altered blob opened");
    const auto& e = r.error();
    OpenFailure want = OpenFailure::authentication_failed;
    if (!keys.find(key_id)) want = OpenFailure::unknown_key_id;
    else if (nonce.size() != kNonceBytes || ciphertext.size() < kMacBytes) want = OpenFailure::malformed;
    if (e.code != want) fail("wrong failure reason: " + e.message);
    if (e.message.empty()) fail("empty error message");
    if (tampered && e.message.find(kPlain) != std::string::npos) fail("the error message reveals the plaintext", e.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Fixture& f = fixture();
    FuzzedDataProvider in(data, size);
    if (!in.ConsumeBool()) {
        const KeyId key_id = in.ConsumeIntegral<KeyId>() % 4;   // 1 and 2 exist, 0 and 3 do not
        const std::string tenant = in.ConsumeRandomLengthString(64);
        const std::string kind = in.ConsumeRandomLengthString(32);
        const std::string provider = in.ConsumeRandomLengthString(32);
        const auto nonce = in.ConsumeBytes<unsigned char>(in.ConsumeIntegralInRange<std::size_t>(0, 40));
        const auto ciphertext = in.ConsumeRemainingBytes<unsigned char>();
        check(f.keys, {tenant, kind, provider}, key_id, nonce, ciphertext, false, false);
        return 0;
    }
    KeyId key_id = f.genuine.key_id ^ in.ConsumeIntegral<std::uint8_t>();
    std::vector<unsigned char> nonce(f.genuine.nonce.begin(), f.genuine.nonce.end());
    std::vector<unsigned char> ciphertext = f.genuine.ciphertext;
    RowIdentity row = kRow;
    const std::string other = in.ConsumeRandomLengthString(16);
    if (in.ConsumeBool()) row.provider = other;
    const auto resize = in.ConsumeIntegralInRange<int>(-20, 20);
    if (resize != 0) ciphertext.resize(static_cast<std::size_t>(std::max<int>(0, static_cast<int>(ciphertext.size()) + resize)));
    bool changed = key_id != f.genuine.key_id || row.provider != kRow.provider || resize != 0;
    for (std::size_t i = 0; i < nonce.size() + ciphertext.size() && in.remaining_bytes() > 0; ++i) {
        const auto x = in.ConsumeIntegral<std::uint8_t>();
        if (x == 0) continue;
        changed = true;
        (i < nonce.size() ? nonce[i] : ciphertext[i - nonce.size()]) ^= x;
    }
    check(f.keys, row, key_id, nonce, ciphertext, !changed, true);
    return 0;
}
