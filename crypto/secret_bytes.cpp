#include "crypto/secret_bytes.hpp"

#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace rollout_mcp::crypto {

void ensure_sodium() {
    // sodium_init() is itself idempotent and thread-safe; the static only avoids repeating the call.
    static const int rc = sodium_init();
    if (rc < 0) throw std::runtime_error("libsodium could not be initialised (sodium_init failed)");
}

void disable_core_dumps() {
    const rlimit none{0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0)
        throw std::system_error(errno, std::generic_category(), "setrlimit(RLIMIT_CORE, 0)");
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        throw std::system_error(errno, std::generic_category(), "prctl(PR_SET_DUMPABLE, 0)");
}

SecretBytes::SecretBytes(std::size_t n) {
    if (n == 0) return;
    ensure_sodium();
    ptr_ = static_cast<unsigned char*>(sodium_malloc(n));
    if (ptr_ == nullptr) throw std::bad_alloc();
    size_ = n;
    sodium_memzero(ptr_, size_);  // sodium_malloc fills with 0xdb; callers expect a clean buffer
}

SecretBytes SecretBytes::random(std::size_t n) {
    SecretBytes s(n);
    if (n != 0) randombytes_buf(s.ptr_, n);
    return s;
}

SecretBytes SecretBytes::copy_of(std::span<const unsigned char> bytes) {
    SecretBytes s(bytes.size());
    if (!bytes.empty()) std::memcpy(s.ptr_, bytes.data(), bytes.size());
    return s;
}

SecretBytes SecretBytes::copy_of(std::string_view text) {
    return copy_of(std::span<const unsigned char>(
        reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : ptr_(other.ptr_), size_(other.size_) {
    other.ptr_ = nullptr;
    other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
        reset();
        ptr_ = other.ptr_;
        size_ = other.size_;
        other.ptr_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

SecretBytes::~SecretBytes() { reset(); }

void SecretBytes::reset() noexcept {
    if (ptr_ != nullptr) {
        sodium_memzero(ptr_, size_);  // sodium_free wipes too; explicit so the intent survives refactors
        sodium_free(ptr_);
    }
    ptr_ = nullptr;
    size_ = 0;
}

bool SecretBytes::equals(std::span<const unsigned char> other) const noexcept {
    if (other.size() != size_) return false;
    if (size_ == 0) return true;
    return sodium_memcmp(ptr_, other.data(), size_) == 0;
}

ScopedWipe::~ScopedWipe() { sodium_memzero(p_, n_); }

WipedBuffer::WipedBuffer(std::size_t n) : ptr_(n ? new unsigned char[n]() : nullptr), size_(n) {}

WipedBuffer::WipedBuffer(WipedBuffer&& other) noexcept : ptr_(other.ptr_), size_(other.size_) {
    other.ptr_ = nullptr;
    other.size_ = 0;
}

WipedBuffer& WipedBuffer::operator=(WipedBuffer&& other) noexcept {
    if (this != &other) {
        reset();
        ptr_ = std::exchange(other.ptr_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

WipedBuffer::~WipedBuffer() { reset(); }

void WipedBuffer::reset() noexcept {
    if (ptr_ != nullptr) {
        sodium_memzero(ptr_, size_);
        delete[] ptr_;
    }
    ptr_ = nullptr;
    size_ = 0;
}

}  // namespace rollout_mcp::crypto
