// Dekker's pattern with its cost on the side that can afford it (sync/wake_masks.hpp).
//
// A wake-up is never lost because each side makes its change and then looks at the other's,
// with a full barrier (StoreLoad) in between. The waker's side runs on every commit of every
// record; the sleeper's side once per sleep. A full barrier on the commit costs a publisher a
// locked instruction a record (a seq_cst store is an xchg on x86), a good part of what a
// single-record offer costs.
//
// membarrier(2) moves that cost to the sleeper. A process whose publishers register
// (MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) may commit with a release store and a compiler
// barrier only (light_fence). A sleeper then issues MEMBARRIER_CMD_GLOBAL_EXPEDITED
// (heavy_fence) after setting its bit and before looking again: the kernel runs a full barrier on
// every CPU that runs a thread of a registered process, and a thread that is not running passes
// one when it is switched in. So either the publisher's load of the mask comes after that barrier
// and sees the bit (set before the syscall), or it came before it, and then so did the commit,
// which the sleeper's look after the syscall sees.
//
// Each process decides for itself: where registering fails (a kernel before 4.16, a seccomp
// filter, valgrind), its publishers keep the full barrier on every commit. A sleeper whose own
// membarrier fails cannot vouch for other processes' light commits, so it sleeps in short slices
// (Subscriber::wait) instead of trusting a post.
//
// A topic may instead put the cost back on its publishers (kFlagFencedCommits, "fenced
// commits"): every publisher of it commits with a seq_cst store, light_fence_usable or not, and
// its sleepers make do with a full barrier of their own (sleeper_fence). Where readers sleep
// after most records, as an event loop's do, that trades a locked instruction per record for a
// system call and an interrupt of the publishers' CPUs per sleep.
#pragma once

#include <atomic>

namespace shmbus::sync {

/// Registers this process for sleepers' heavy fences, once; whether its wakers may use
/// light_fence. Thread-safe; the first call makes one system call, later calls none.
[[nodiscard]] bool light_fence_usable() noexcept;

/// The waker's half, in a process where light_fence_usable(): a compiler barrier. The heavy
/// fence of a sleeper supplies the hardware barrier when it is needed.
inline void light_fence() noexcept {
    std::atomic_signal_fence(std::memory_order_seq_cst);
}

/// The sleeper's half: a full barrier here and on every CPU running a registered process's
/// thread. False if the kernel refused it; the caller must then not rely on being woken by a
/// light waker, and bounds its sleep instead.
[[nodiscard]] bool heavy_fence() noexcept;

/// The sleeper's half on a topic: a full barrier of this thread's own where every publisher
/// of the topic fences its commits (kFlagFencedCommits), else heavy_fence(). False as
/// heavy_fence.
[[nodiscard]] inline bool sleeper_fence(bool fenced_commits) noexcept {
    if (fenced_commits) {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        return true;
    }
    return heavy_fence();
}

}  // namespace shmbus::sync
