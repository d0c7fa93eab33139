// Turning SIGBUS on a truncated topic file into Status::kTopicLost for that topic alone.
#pragma once

#include <atomic>
#include <cstddef>

namespace shmbus::format {
struct StateRestore;
}

namespace shmbus::detail {

/// Watches [base, base + size). A SIGBUS inside it restores the file through `restore` when
/// given (a state file), and otherwise, or if that fails, replaces the whole range with zero
/// pages, sets *lost and bumps the handle epoch. Installs the SIGBUS handler on first use.
/// Returns false if the table of watched ranges is full (the range then stays unwatched).
bool guard_mapping(void* base, std::size_t size, std::atomic<bool>* lost,
                   format::StateRestore* restore) noexcept;

/// Stops watching the range that starts at `base`, before it is unmapped.
void unguard_mapping(void* base) noexcept;

}  // namespace shmbus::detail
