// SecretBytes: key material and decrypted secrets in sodium_malloc memory (guard pages, mlock, kept out
// of core dumps), zeroed when released. Deliberately has no operator<< and no conversion to std::string.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace rollout_mcp::crypto {

// Initialises libsodium once per process; throws std::runtime_error if it cannot (start-up failure).
// Every crypto entry point calls it, so callers only need it to fail early and loudly at start-up.
void ensure_sodium();

// Start-up hardening: no core files (RLIMIT_CORE 0) and not dumpable/ptrace-able by the same uid
// (PR_SET_DUMPABLE 0). Throws std::system_error if either call fails.
void disable_core_dumps();

class SecretBytes {
public:
    SecretBytes() noexcept = default;
    // Zero-filled buffer of n bytes; throws std::bad_alloc when sodium_malloc fails.
    explicit SecretBytes(std::size_t n);
    static SecretBytes random(std::size_t n);
    static SecretBytes copy_of(std::span<const unsigned char> bytes);
    static SecretBytes copy_of(std::string_view text);

    SecretBytes(SecretBytes&& other) noexcept;
    SecretBytes& operator=(SecretBytes&& other) noexcept;
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    ~SecretBytes();

    unsigned char* data() noexcept { return ptr_; }
    const unsigned char* data() const noexcept { return ptr_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::span<const unsigned char> view() const noexcept { return {ptr_, size_}; }
    std::span<unsigned char> mutable_view() noexcept { return {ptr_, size_}; }
    // The bytes as text, for the few places that must hand a secret on (an HTTP header, printing a new
    // API key once). Explicit on purpose; do not copy the result into a long-lived std::string.
    std::string_view text() const noexcept {
        return {reinterpret_cast<const char*>(ptr_), size_};
    }

    // Constant-time comparison (sodium_memcmp); different sizes compare unequal.
    bool equals(std::span<const unsigned char> other) const noexcept;

    // Releases the memory now (zeroed), leaving an empty buffer.
    void reset() noexcept;

private:
    unsigned char* ptr_ = nullptr;
    std::size_t size_ = 0;
};

// Client data opened from a sealed row (a sync job's payload): ordinary heap memory, wiped with sodium_memzero
// when released. No guard pages and no mlock: those cost an mmap and two mprotect calls per buffer, which a
// per-job buffer pays on the sync path (docs/ARCHITECTURE.md, "Secrets in memory"). For data, never for keys.
class WipedBuffer {
public:
    WipedBuffer() noexcept = default;
    explicit WipedBuffer(std::size_t n);   // zero-filled
    WipedBuffer(WipedBuffer&& other) noexcept;
    WipedBuffer& operator=(WipedBuffer&& other) noexcept;
    WipedBuffer(const WipedBuffer&) = delete;
    WipedBuffer& operator=(const WipedBuffer&) = delete;
    ~WipedBuffer();

    unsigned char* data() noexcept { return ptr_; }
    const unsigned char* data() const noexcept { return ptr_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::span<const unsigned char> view() const noexcept { return {ptr_, size_}; }
    std::string_view text() const noexcept { return {reinterpret_cast<const char*>(ptr_), size_}; }
    void reset() noexcept;   // wipes and frees now

private:
    unsigned char* ptr_ = nullptr;
    std::size_t size_ = 0;
};

// Wipes a stack buffer when it leaves scope, on every path (exceptions included). Used for short-lived
// derived keys where a sodium_malloc per operation (an mmap and mprotect each) would dominate the cost.
class ScopedWipe {
public:
    ScopedWipe(void* p, std::size_t n) noexcept : p_(p), n_(n) {}
    ScopedWipe(const ScopedWipe&) = delete;
    ScopedWipe& operator=(const ScopedWipe&) = delete;
    ~ScopedWipe();

private:
    void* p_;
    std::size_t n_;
};

}  // namespace rollout_mcp::crypto
