// A shared (not process-private) futex on a 32-bit word in a MAP_SHARED mapping: how the
// processes of one case wait for each other at the start line without burning the CPUs that
// the measured processes are about to use. Never used on a measured path.
#pragma once

#include <chrono>
#include <cstdint>

namespace shmbus::bench {

/// Sleeps while `*word == expected`, at most `timeout`. Spurious returns are possible: callers
/// loop on their condition.
void futex_wait(const std::uint32_t* word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;

/// Wakes every process sleeping on `word`.
void futex_wake_all(const std::uint32_t* word) noexcept;

}  // namespace shmbus::bench
