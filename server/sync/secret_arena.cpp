// First-fit allocation over one sodium_malloc region, free runs merged on give-back.
#include "server/sync/secret_arena.hpp"

#include <sodium.h>

namespace rollout_mcp {

SecretArena::Block::~Block() { arena_->give_back(offset_, size_); }

std::span<unsigned char> SecretArena::Block::bytes() const noexcept {
    return {arena_->memory_.data() + offset_, size_};
}

std::shared_ptr<SecretArena> SecretArena::create(std::size_t capacity_bytes) {
    return std::shared_ptr<SecretArena>(new SecretArena(capacity_bytes));
}

SecretArena::SecretArena(std::size_t capacity_bytes)
    : memory_((capacity_bytes + kGrain - 1) / kGrain * kGrain) {
    if (memory_.size() > 0) free_.emplace(0, memory_.size());
}

std::unique_ptr<SecretArena::Block> SecretArena::allocate(std::size_t size) {
    const std::size_t rounded = std::max<std::size_t>(kGrain, (size + kGrain - 1) / kGrain * kGrain);
    std::lock_guard lock(mu_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
        if (it->second < rounded) continue;
        const std::size_t offset = it->first;
        const std::size_t left = it->second - rounded;
        free_.erase(it);
        if (left > 0) free_.emplace(offset + rounded, left);
        return std::make_unique<Block>(shared_from_this(), offset, rounded);
    }
    return nullptr;
}

std::size_t SecretArena::free_bytes() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& [offset, length] : free_) n += length;
    return n;
}

void SecretArena::give_back(std::size_t offset, std::size_t size) noexcept {
    sodium_memzero(memory_.data() + offset, size);
    std::lock_guard lock(mu_);
    auto [it, inserted] = free_.emplace(offset, size);
    if (!inserted) return;   // cannot happen: a block is given back once
    // Merge with the following run, then with the preceding one.
    if (auto next = std::next(it); next != free_.end() && it->first + it->second == next->first) {
        it->second += next->second;
        free_.erase(next);
    }
    if (it != free_.begin()) {
        auto prev = std::prev(it);
        if (prev->first + prev->second == it->first) {
            prev->second += it->second;
            free_.erase(it);
        }
    }
}

}  // namespace rollout_mcp
