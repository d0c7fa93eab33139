// Open-file-description byte locks (fcntl F_OFD_SETLK / F_OFD_GETLK, Linux >= 3.15).
//
// Unlike classic POSIX record locks these belong to the open file description, not to the
// process: closing some other descriptor of the same file does not drop them, and two opens in
// one process conflict with each other. A client therefore opens the file once more for each
// lock it holds, and the lock lives exactly as long as that descriptor.
#pragma once

#include <cstdint>

namespace shmbus::sync {

enum class LockKind { kRead, kWrite };

enum class LockResult {
    kAcquired,  // the lock is now held through this descriptor
    kConflict,  // another open file description holds a conflicting lock
    kError,     // the system call failed; errno says why
};

/// Try to lock one byte at `offset` through `fd`, without waiting.
[[nodiscard]] LockResult try_lock_byte(int fd, std::uint64_t offset, LockKind kind) noexcept;

/// Release a byte lock held through `fd`. Returns false (errno set) on failure.
bool unlock_byte(int fd, std::uint64_t offset) noexcept;

enum class Probe {
    kFree,   // nobody else holds a lock that would conflict with `kind`
    kHeld,   // someone does
    kError,  // the system call failed; errno says why
};

/// Would a lock of `kind` on `offset` conflict with a lock held through another open file
/// description? Locks held through `fd` itself never conflict.
[[nodiscard]] Probe probe_byte(int fd, std::uint64_t offset, LockKind kind) noexcept;

}  // namespace shmbus::sync
