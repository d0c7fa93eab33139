// Sleeping without costing the other side a system call: an eventcount made of a bit mask in the
// state file and one semaphore per sleeper.
//
//   sleeper (a subscriber waiting for data, or a publisher held back in block mode)
//     1. set its bit in the mask                      fetch_or, seq_cst
//     1b. a subscriber: the heavy fence               membarrier (sync/asymmetric_fence.hpp)
//     2. look again for what it waits for             seq_cst load
//     3. only if still nothing: sleep on its own semaphore, with a timeout
//     4. clear its bit                                fetch_and, seq_cst
//
//   waker (a publisher that just committed, or a subscriber that just advanced)
//     1. make its change                              seq_cst store; a publisher's commit in a
//                                                     registered process: release store and a
//                                                     compiler barrier (the light fence)
//     2. read the mask                                seq_cst load
//     3. if a bit is set: clear it and post that sleeper's semaphore
//
// This is Dekker's pattern: with a full barrier between each side's steps 1 and 2 (on the
// publisher's side supplied by the sleeper's heavy fence where the publisher uses the light one),
// either the sleeper's step 2 sees the waker's change, or the waker's step 2 sees the sleeper's
// bit. A wake-up cannot be lost, and while
// nobody sleeps the waker pays one load of one cache line and no system call. Clearing a bit
// before posting means one post per sleep, so a sleeper costs at most one futex wake.
//
// A sleeper that dies with its bit set costs the next waker one post to a semaphore nobody
// waits on; the bit is then clear. Sleeps are bounded by a timeout, so even a waker that dies
// between clearing a bit and posting delays a sleeper by one timeout, never for good.
#pragma once

#include <bit>
#include <cstdint>

#include "shmbus/detail/util/atomic.hpp"

namespace shmbus::sync {

[[nodiscard]] constexpr std::uint64_t bit_of(std::uint32_t index) noexcept {
    return std::uint64_t{1} << (index % 64);
}

/// Sets bit `index` of a mask of 64-bit words (seq_cst). Sleeper, step 1; also how a subscriber
/// marks itself attached.
inline void set_bit(std::uint64_t* mask, std::uint32_t index) noexcept {
    atomics::fetch_or_seq_cst(mask[index / 64], bit_of(index));
}

/// Clears bit `index` (seq_cst). Sleeper, step 4.
inline void clear_bit(std::uint64_t* mask, std::uint32_t index) noexcept {
    atomics::fetch_and_seq_cst(mask[index / 64], ~bit_of(index));
}

/// Whether bit `index` is set (seq_cst, as every load of a mask).
[[nodiscard]] inline bool bit_is_set(const std::uint64_t* mask, std::uint32_t index) noexcept {
    return (atomics::load_seq_cst(mask[index / 64]) & bit_of(index)) != 0;
}

/// Waker, step 2: any bit set among the first `words` words. seq_cst loads: the second half of
/// the Dekker pair with the waker's seq_cst change.
[[nodiscard]] inline bool anyone_asleep(const std::uint64_t* mask, std::uint32_t words) noexcept {
    for (std::uint32_t w = 0; w < words; ++w) {
        if (atomics::load_seq_cst(mask[w]) != 0) return true;
    }
    return false;
}

/// Waker, step 3: takes every set bit and calls `post(index)` for each, for indices below
/// `count`. Exchanging the word to zero claims all its sleepers at once.
template <typename Post>
void wake_sleepers(std::uint64_t* mask, std::uint32_t count, Post&& post) noexcept {
    const std::uint32_t words = (count + 63) / 64;
    for (std::uint32_t w = 0; w < words; ++w) {
        if (atomics::load_relaxed(mask[w]) == 0) continue;
        // acq_rel: the acquire half pairs with the sleepers' fetch_or, the release half with
        // their fetch_and; one of us owns each bit.
        std::uint64_t bits = atomics::exchange_acq_rel(mask[w], std::uint64_t{0});
        while (bits != 0) {
            const std::uint32_t index = w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
            bits &= bits - 1;
            if (index < count) post(index);
        }
    }
}

}  // namespace shmbus::sync
