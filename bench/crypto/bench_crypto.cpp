// Cost of sealing/opening one secret and a job payload, and of the per-request API-key check (pure hash, and the full
// SqlStorage::authenticate with a prepared-statement lookup on a real database file).
#include "crypto/api_key.hpp"
#include "crypto/keyring.hpp"
#include "crypto/seal.hpp"
#include "storage/sql_storage.hpp"

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace rollout_mcp;

crypto::Keyring make_ring() {
    crypto::Keyring ring;
    ring.add(1, crypto::SecretBytes::random(crypto::kKeyBytes));
    ring.set_active(1);
    return ring;
}

const crypto::RowIdentity kRow{"t_0123456789abcdef01234567", "crm_connection", "hubspot"};

void BM_Seal(benchmark::State& state) {
    const auto ring = make_ring();
    const std::vector<unsigned char> plain(static_cast<std::size_t>(state.range(0)), 'x');
    for (auto _ : state) benchmark::DoNotOptimize(crypto::seal(ring, kRow, plain));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Seal)->Arg(64)->Arg(1024);

// Opens `size` bytes sealed for `row` with `open` (crypto::open or crypto::open_data).
template <typename Open>
void open_loop(benchmark::State& state, const crypto::RowIdentity& row, Open open) {
    const auto ring = make_ring();
    const std::vector<unsigned char> plain(static_cast<std::size_t>(state.range(0)), 'x');
    const auto sealed = crypto::seal(ring, row, plain);
    for (auto _ : state) benchmark::DoNotOptimize(open(ring, row, sealed.key_id, sealed.nonce, sealed.ciphertext));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void BM_Open(benchmark::State& state) { open_loop(state, kRow, &crypto::open); }
BENCHMARK(BM_Open)->Arg(64)->Arg(1024);

// A sync job's payload as a claim opens it (client data: ordinary memory wiped on release, crypto/secret_bytes.hpp),
// at the size of a two-visit tour (about 1 KiB) and of a large one.
void BM_OpenJobPayload(benchmark::State& state) {
    open_loop(state, {"t_0123456789abcdef01234567", "sync_payload", "p_0123456789abcdef01234567"}, &crypto::open_data);
}
BENCHMARK(BM_OpenJobPayload)->Arg(1024)->Arg(16384);

// What Open pays for secret memory: sodium_malloc (guard pages, mprotect, mlock) and sodium_free.
void BM_SecretBytesAlloc(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(crypto::SecretBytes(64));
}
BENCHMARK(BM_SecretBytesAlloc);

void BM_ApiKeyHashCheck(benchmark::State& state) {
    const crypto::ApiKeyHasher hasher(crypto::SecretBytes::random(32));
    const auto k = hasher.generate();
    for (auto _ : state) benchmark::DoNotOptimize(hasher.matches(k.key.text(), k.hash));
}
BENCHMARK(BM_ApiKeyHashCheck);

// The whole auth check per request: parse, indexed lookup by prefix, keyed hash, constant-time compare.
void BM_Authenticate(benchmark::State& state) {
    const auto dir = std::filesystem::temp_directory_path() / ("rmcp-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        auto store = storage::SqlStorage::open(
            dir / "bench.db", crypto::MasterKey{crypto::SecretBytes::random(32), "bench", {}});
        std::string key;
        for (int t = 0; t < 100; ++t) {
            const auto tenant = *store->create_tenant("team-" + std::to_string(t));
            for (int i = 0; i < 10; ++i) {
                auto issued = *store->issue_api_key(tenant.id);
                if (t == 50 && i == 5) key = std::string(issued.key.text());
            }
        }
        for (auto _ : state) {
            auto r = store->authenticate(key);
            if (!r) state.SkipWithError("authentication failed");
            benchmark::DoNotOptimize(r);
        }
    }
    std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Authenticate);

}  // namespace

BENCHMARK_MAIN();
