// What a forked child may do with its parent's handles: nothing.
//
// After fork() the child shares its parent's descriptors, so it would keep the parent's slot
// locks alive after the parent died, and its publishes would go out under the parent's slot.
// A pthread_atfork handler therefore closes every slot-lock descriptor in the child and bumps a
// generation counter; a handle made before the fork sees the new generation and returns
// Status::kForked from every call. The child attaches its own Publisher or Subscriber instead.
#pragma once

#include <cstdint>

namespace shmbus::detail {

/// Incremented in every forked child. Read (relaxed) on each data-path call: one load of a
/// process-local word that never changes in a running process, so it stays in cache.
extern std::uint32_t g_fork_generation;

[[nodiscard]] inline std::uint32_t fork_generation() noexcept { return g_fork_generation; }

/// Registers a slot-lock descriptor to be closed in forked children.
void register_lock_fd(int fd);
/// Forgets it, before the owner closes it.
void unregister_lock_fd(int fd) noexcept;

}  // namespace shmbus::detail
