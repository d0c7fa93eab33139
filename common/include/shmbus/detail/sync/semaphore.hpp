// The process-shared semaphore that lives in a 32-byte field of a slot in the state file: a
// Boost.Interprocess interprocess_semaphore, which on Linux is an unnamed POSIX semaphore with
// pshared set (a futex word). Posting one nobody waits on is an atomic add; waiting on a
// positive one is an atomic decrement. Only a wait on zero, or a post with a sleeper, enters the
// kernel.
//
// Each semaphore has exactly one waiter, the slot's owner, which re-initialises it at attach:
// a sleeper killed inside sem_clockwait leaves the old one's waiter count raised, and a fresh
// one starts clean.
//
// The state file is writable by every client, so a semaphore is untrusted input like any other
// shared field. glibc aborts the process when a futex call fails in a way it does not expect,
// which a scribbled sem_t can arrange, and a scribbled count of two billion takes that long to
// drain. So every operation first checks the bytes against the layout sem_init(pshared = 1)
// leaves on 64-bit glibc (a 64-bit word whose low half is the count, then an int that holds the
// shared-futex flag, 128): a poster skips a semaphore that fails the check (its sleeper
// wakes at its timeout), and the owner re-initialises its own. A client that rewrites the bytes
// between the check and the call is the residual risk (docs/SECURITY.md).
//
// Construction, posts and tries go through Boost. The sleep is glibc's sem_clockwait protocol
// written out (semaphore.cpp): the same steps on the same words, so Boost's post pairs with it,
// with a CLOCK_MONOTONIC deadline (Boost 1.74's timed_wait takes a wall-clock ptime, which a clock
// step stretches or cuts and which costs about 40 ns to convert), and with a futex call that
// fails with EFAULT, when another client truncated the file under it, as an error rather than as
// the abort glibc makes of it.
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

/// Owner only, before sleeping: consumes posts left from earlier sleeps, and re-initialises a
/// semaphore that is malformed or holds more than a handful of them.
void semaphore_drain(std::uint8_t* storage) noexcept;

/// Do these bytes look like a process-shared semaphore that sem_post and sem_clockwait can
/// use safely? (See the file comment.)
[[nodiscard]] bool semaphore_well_formed(const std::uint8_t* storage) noexcept;

/// Owner only: sleeps until posted or until `deadline` (steady_clock, that is CLOCK_MONOTONIC)
/// has passed. A malformed semaphore is re-initialised first.
[[nodiscard]] WaitOutcome semaphore_wait_until(
    std::uint8_t* storage, std::chrono::steady_clock::time_point deadline) noexcept;

}  // namespace shmbus::sync
