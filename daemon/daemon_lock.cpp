#include "daemon_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <shmbus/detail/sync/ofd_lock.hpp>
#include <shmbus/error.hpp>
#include <string>

namespace shmbusd {
namespace {

constexpr std::uint64_t kDaemonLockByte = 0;

/// The pid the running daemon wrote, or 0 if the file does not hold one (yet).
long recorded_pid(int fd) {
    char text[32] = {};
    const ssize_t got = ::pread(fd, text, sizeof text - 1, 0);
    if (got <= 0) return 0;
    long pid = 0;
    const auto [end, error] = std::from_chars(text, text + got, pid);
    if (error != std::errc{} || end == text || pid <= 0) return 0;
    return pid;
}

}  // namespace

std::filesystem::path DaemonLock::path_for(const std::filesystem::path& dir) {
    return dir / ".shmbusd.lock";
}

DaemonLock::DaemonLock(const std::filesystem::path& dir) {
    const std::filesystem::path path = path_for(dir);
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd_) throw shmbus::system_error("opening the daemon lock " + path.string());
    // On every throw below, fd_ is closed as the constructor unwinds.
    switch (
        shmbus::sync::try_lock_byte(fd_.get(), kDaemonLockByte, shmbus::sync::LockKind::kWrite)) {
        case shmbus::sync::LockResult::kAcquired:
            break;
        case shmbus::sync::LockResult::kConflict: {
            const long pid = recorded_pid(fd_.get());
            throw shmbus::Error(
                shmbus::ErrorCode::kBusy,
                "another shmbusd " + (pid > 0 ? "(pid " + std::to_string(pid) + ") " : "") +
                    "already supervises " + dir.string() + " (it holds " + path.string() + ")");
        }
        case shmbus::sync::LockResult::kError:
            throw shmbus::system_error("locking " + path.string());
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_.get(), 0) != 0 ||
        ::pwrite(fd_.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        throw shmbus::system_error("writing the pid into " + path.string());
    }
}

// The file stays: removing it would let a daemon starting now lock a file that the next one no
// longer sees. Closing fd_ drops the lock.
DaemonLock::~DaemonLock() = default;

}  // namespace shmbusd
