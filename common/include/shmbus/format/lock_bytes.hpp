// The bytes that open-file-description (OFD) locks are taken on. They lie far beyond the end
// of either file, where no data can ever be, so a lock never covers a byte anyone reads.
//
//   records file                                   kind    held by, for how long
//   ------------------------------------------     ------  ---------------------------------
//   kLockBase + 0           init                   read    every attached client, while attached
//                                                  write   whoever (re)initialises the file
//   kLockBase + 1           repair                 write   a repairer (daemon or blocked
//                                                          publisher), while it unblocks one frame
//   kLockBase + 4096 + i    publisher slot i       write   the publisher owning slot i
//
//   state file
//   ------------------------------------------
//   kLockBase + 4096 + i    subscriber slot i      write   the subscriber owning slot i
//
//   <bus dir>/.shmbusd.lock, byte 0                write   the daemon supervising the directory
//
// The kernel drops an OFD lock when the last descriptor of its open file description closes,
// which includes the death of the process. So "slot i's lock is free" means "slot i's owner has
// detached or died", with no heartbeat and no timeout.
#pragma once

#include <cstdint>

namespace shmbus::format {

inline constexpr std::uint64_t kLockBase = std::uint64_t{1} << 50;
inline constexpr std::uint64_t kInitLockByte = kLockBase + 0;
inline constexpr std::uint64_t kRepairLockByte = kLockBase + 1;
inline constexpr std::uint64_t kSlotLockBase = kLockBase + 4096;

[[nodiscard]] constexpr std::uint64_t slot_lock_byte(std::uint32_t slot) noexcept {
    return kSlotLockBase + slot;
}

static_assert(kLockBase > (std::uint64_t{1} << 41), "lock bytes must lie beyond any topic file");

}  // namespace shmbus::format
