// The bytes that open-file-description (OFD) locks are taken on. They lie far beyond the end
// of any topic file, where no data can ever be, so a lock never covers a byte anyone reads.
//
//   records file                                   kind    held by, for how long
//   ------------------------------------------     ------  ---------------------------------
//   kLockBase + 0           init                   read    every attached client, while attached
//                                                  write   whoever (re)initialises the file
//
//   locks file (empty; mode: the records file's write bits only, so only publishers and the
//   daemon can open it, and only for writing)
//   ------------------------------------------
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
// Why a locks file. Any process that can open a file, even read-only, can take read locks on
// it. Were the publisher and repair locks on the records file, which subscribers may read, a
// subscriber-only process could read-lock a publisher slot's byte (keeping publishers from that
// slot, and making a dead publisher there look alive) or the repair byte (keeping every
// repairer from a dead publisher's claim): one reader could stop the topic. Nobody who may not
// publish can open the locks file at all.
//
// The kernel drops an OFD lock when the last descriptor of its open file description closes,
// which includes the death of the process. So "slot i's lock is free" means "slot i's owner has
// detached or died", with no heartbeat and no timeout. An owner holds a *write* lock, so
// liveness is probed for a write lock only (a probe for a read lock conflicts with nothing
// else): a read lock some other client of the state file takes on a subscriber slot's byte
// neither keeps that slot's dead owner alive nor stops its reclaim (ring/slots.hpp).
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
