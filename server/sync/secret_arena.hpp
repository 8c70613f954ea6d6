// SecretArena: one bounded region of guarded, locked memory (sodium_malloc: guard pages, mlock, out of core
// dumps) that many small long-lived secrets share, so keeping a thousand teams' opened Rollout tokens and CRM
// credential ids in memory costs one mapping, not one mmap and two mprotect calls per secret and per use
// (README "Sync path CPU"). A block is zeroed when it is given back.
#pragma once

#include "storage/team_config.hpp"   // crypto::SecretBytes, the region's memory

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <span>

namespace rollout_mcp {

class SecretArena : public std::enable_shared_from_this<SecretArena> {
public:
    // A block of the arena, given back (zeroed) when the last owner drops it; the arena outlives its blocks.
    class Block {
    public:
        Block(std::shared_ptr<SecretArena> arena, std::size_t offset, std::size_t size) noexcept
            : arena_(std::move(arena)), offset_(offset), size_(size) {}
        Block(const Block&) = delete;
        Block& operator=(const Block&) = delete;
        ~Block();
        std::span<unsigned char> bytes() const noexcept;

    private:
        std::shared_ptr<SecretArena> arena_;
        std::size_t offset_, size_;
    };

    static constexpr std::size_t kGrain = 64;   // block sizes round up to this

    static std::shared_ptr<SecretArena> create(std::size_t capacity_bytes);
    // A zeroed block of at least `size` bytes, or null when no free run is long enough.
    std::unique_ptr<Block> allocate(std::size_t size);
    std::size_t capacity() const noexcept { return memory_.size(); }
    std::size_t free_bytes() const;

private:
    explicit SecretArena(std::size_t capacity_bytes);
    void give_back(std::size_t offset, std::size_t size) noexcept;

    crypto::SecretBytes memory_;
    mutable std::mutex mu_;
    std::map<std::size_t, std::size_t> free_;   // offset -> length of each free run, runs never adjacent
};

}  // namespace rollout_mcp
