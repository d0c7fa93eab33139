#include "shmbus/detail/sync/ofd_lock.hpp"

#include <fcntl.h>

#include <cerrno>

namespace shmbus::sync {
namespace {

struct flock byte_lock(std::uint64_t offset, short type) {
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = static_cast<off_t>(offset);
    lock.l_len = 1;
    lock.l_pid = 0;  // must be zero for OFD locks
    return lock;
}

short type_of(LockKind kind) {
    return kind == LockKind::kRead ? F_RDLCK : F_WRLCK;
}

}  // namespace

LockResult try_lock_byte(int fd, std::uint64_t offset, LockKind kind) noexcept {
    struct flock lock = byte_lock(offset, type_of(kind));
    if (::fcntl(fd, F_OFD_SETLK, &lock) == 0) return LockResult::kAcquired;
    if (errno == EAGAIN || errno == EACCES) return LockResult::kConflict;
    return LockResult::kError;
}

bool unlock_byte(int fd, std::uint64_t offset) noexcept {
    struct flock lock = byte_lock(offset, F_UNLCK);
    return ::fcntl(fd, F_OFD_SETLK, &lock) == 0;
}

Probe probe_byte(int fd, std::uint64_t offset, LockKind kind) noexcept {
    struct flock lock = byte_lock(offset, type_of(kind));
    if (::fcntl(fd, F_OFD_GETLK, &lock) != 0) return Probe::kError;
    return lock.l_type == F_UNLCK ? Probe::kFree : Probe::kHeld;
}

}  // namespace shmbus::sync
