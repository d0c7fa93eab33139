// The lock that makes one recorder the only writer of an archive directory, and lets readers
// see whether a recorder is at work (docs/ARCHIVE.md, "One writer per directory").
//
// It is an open-file-description lock (sync/ofd_lock.hpp) on byte 0 of DIR/.lock, held for the
// writer's lifetime and released by the kernel when its process dies. A reader probes it with
// F_OFD_GETLK, which takes nothing, so a probe can never make a recorder fail to start.
#pragma once

#include <filesystem>

#include "shmbus/detail/util/unique_fd.hpp"

namespace shmbus::archive {

/// Takes the writer's lock on `dir`, which must exist. Throws shmbus::Error kBusy if another
/// writer holds it, or the system error of opening or locking DIR/.lock.
[[nodiscard]] util::UniqueFd acquire_writer_lock(const std::filesystem::path& dir);

/// Whether a writer holds the lock on `dir` now. False if the directory or its lock file does
/// not exist.
[[nodiscard]] bool recording_active(const std::filesystem::path& dir);

}  // namespace shmbus::archive
