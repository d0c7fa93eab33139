// The process-shared semaphore that lives in a 32-byte field of a slot in the state file: a
// Boost.Interprocess interprocess_semaphore, which on Linux is an unnamed POSIX semaphore with
// pshared set (a futex word). Posting one nobody waits on is an atomic add; waiting on a
// positive one is an atomic decrement. Only a wait on zero, or a post with a sleeper, enters the
// kernel.
//
// Each semaphore has exactly one waiter, the slot's owner, which re-initialises it at attach:
// a sleeper killed inside sem_timedwait leaves the old one's waiter count raised, and a fresh
// one starts clean.
#pragma once

#include <chrono>
#include <cstdint>

namespace shmbus::sync {

inline constexpr std::size_t kSemaphoreStorage = 32;

enum class WaitOutcome { kPosted, kTimedOut, kInterrupted, kError };

/// Constructs a semaphore with count 0 in `storage` (32 bytes, 32-aligned).
void semaphore_initialise(std::uint8_t* storage) noexcept;

/// Increments the semaphore; wakes its waiter if one sleeps. Never throws: a semaphore that a
/// hostile client scribbled over makes the post fail, and the failure is ignored.
void semaphore_post(std::uint8_t* storage) noexcept;

/// Decrements without blocking; true if the count was positive.
[[nodiscard]] bool semaphore_try_wait(std::uint8_t* storage) noexcept;

/// Sleeps until posted or until `timeout` has passed.
[[nodiscard]] WaitOutcome semaphore_wait_for(std::uint8_t* storage,
                                             std::chrono::nanoseconds timeout) noexcept;

}  // namespace shmbus::sync
