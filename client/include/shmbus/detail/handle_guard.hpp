// When a handle must stop: after fork(), and after its topic's mapping was lost.
//
// fork(): the child shares its parent's descriptors, so it would keep the parent's slot locks
// alive after the parent died, and its publishes would go out under the parent's slot. A
// pthread_atfork handler closes every slot-lock descriptor in the child; a handle made before
// the fork then returns Status::kForked from every call. The child attaches its own handles.
//
// A lost mapping: if a topic's file is truncated under a running process, touching the lost
// pages raises SIGBUS. libshmbus catches SIGBUS for addresses inside its own mappings
// (client/src/sigbus_guard.cpp), replaces that topic's mappings with zero pages so the faulting
// access completes harmlessly, and marks the topic lost; its handles then return
// Status::kTopicLost. Other topics, and SIGBUS anywhere else, are unaffected.
//
// Both events bump one process-wide epoch. The data path loads it (relaxed) once per call and
// compares it with the epoch its handle last saw: one load of a word that almost never changes.
// Only when it differs does the handle look at what happened (Publisher/Subscriber::revalidate).
#pragma once

#include <atomic>
#include <cstdint>

namespace shmbus::detail {

struct TopicMapping;

extern std::atomic<std::uint32_t> g_handle_epoch;

[[nodiscard]] inline std::uint32_t handle_epoch() noexcept {
    // Relaxed: a hint to look closer; revalidate() reads what actually changed.
    return g_handle_epoch.load(std::memory_order_relaxed);
}

/// How many times this process is a forked child of a process that used libshmbus.
[[nodiscard]] std::uint32_t fork_generation() noexcept;

/// True once the topic's files were truncated (or otherwise lost) under this process.
[[nodiscard]] bool mapping_lost(const TopicMapping& mapping) noexcept;

/// Registers a slot-lock descriptor to be closed in forked children.
void register_lock_fd(int fd);
/// Forgets it, before the owner closes it.
void unregister_lock_fd(int fd) noexcept;

}  // namespace shmbus::detail
