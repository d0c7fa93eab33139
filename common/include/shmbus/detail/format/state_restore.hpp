// Making a truncated or zeroed state file whole again.
//
// Every client of a topic must write its state file (positions, semaphores, wake masks), and
// write access to a file includes the right to truncate it. So shmbus does not try to prevent a
// truncation; it makes one cheap. Everything in the state file's identity line (StateHeader
// line 0) follows from the records file, which subscribers cannot write, so any client can put
// it back:
//
//   1. extend the file to its full size again and allocate it (fallocate), so that no page of it
//      can raise SIGBUS;
//   2. if line 0 reads zero (the page was lost), write it again from the records header;
//   3. if either step changed anything, give the file a new incarnation (StateHeader line 3), so
//      that publishers know to look again at every subscriber slot's lock.
//
// The rest of the file comes back as zeros: slots read FREE, masks empty, semaphores malformed.
// Each live client puts its own slot back (a subscriber at its next poll or sleep slice), and a
// publisher never forgets a subscriber whose slot lock is held while its slot is being put back
// (ring/subscriber_watch.hpp). See docs/FORMAT.md, "A truncated state file".
//
// Who restores: Topic::open when it finds the file short or its line 0 zero; the SIGBUS handler
// of any client that touches a page past the new end (client/src/sigbus_guard.cpp); shmbusd on
// every supervision pass. All three run the same two steps, which are idempotent, so racing
// restorers agree.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "shmbus/detail/format/records_header.hpp"
#include "shmbus/detail/format/state_layout.hpp"

namespace shmbus::format {

/// StateHeader line 0 as eight 64-bit words, in the file's (native, little-endian) byte order.
using StateIdentity = std::array<std::uint64_t, kCacheLine / sizeof(std::uint64_t)>;

/// The identity line a state file paired with `records` (a validated records header) must hold.
[[nodiscard]] StateIdentity expected_state_identity(const RecordsHeader& records) noexcept;

/// What a process needs to restore one topic's state file, kept where a signal handler can read
/// it: a descriptor open for writing, the file's size, and its identity line.
struct StateRestore {
    int fd = -1;
    std::uint64_t size = 0;
    StateIdentity identity{};
    /// How many times this process restored the file (statistics, and a guard against a SIGBUS
    /// that restoring does not cure).
    std::atomic<std::uint32_t> restorations{0};
};

/// A fresh incarnation: never zero, and different from one moment to the next and from one
/// process to another. Async-signal-safe.
[[nodiscard]] std::uint64_t new_incarnation() noexcept;

/// Whether the state file behind `fd` is shorter than `restore.size` or its magic reads zero.
/// Async-signal-safe (fstat, pread).
[[nodiscard]] bool state_file_needs_restoring(const StateRestore& restore) noexcept;

/// Steps 1 to 3 above. Returns false (errno set) if the file could not be extended or
/// allocated, or line 0 written: a full file system. Async-signal-safe (fstat, fallocate, pread,
/// pwrite, clock_gettime).
[[nodiscard]] bool restore_state_file(const StateRestore& restore) noexcept;

}  // namespace shmbus::format
