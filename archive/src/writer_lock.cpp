#include "shmbus/archive/writer_lock.hpp"

#include <fcntl.h>

#include <cerrno>

#include "shmbus/detail/sync/ofd_lock.hpp"
#include "shmbus/error.hpp"

namespace shmbus::archive {
namespace {

constexpr const char* kLockFile = ".lock";
constexpr std::uint64_t kWriterByte = 0;

}  // namespace

util::UniqueFd acquire_writer_lock(const std::filesystem::path& dir) {
    const std::filesystem::path lock = dir / kLockFile;
    util::UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) throw system_error("opening " + lock.string());
    switch (sync::try_lock_byte(fd.get(), kWriterByte, sync::LockKind::kWrite)) {
        case sync::LockResult::kAcquired:
            return fd;
        case sync::LockResult::kConflict:
            throw Error(ErrorCode::kBusy,
                        "archive " + dir.string() + " is being recorded by another process");
        case sync::LockResult::kError:
            break;
    }
    throw system_error("locking " + lock.string());
}

bool recording_active(const std::filesystem::path& dir) {
    const std::filesystem::path lock = dir / kLockFile;
    const util::UniqueFd fd(::open(lock.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return false;
    return sync::probe_byte(fd.get(), kWriterByte, sync::LockKind::kWrite) == sync::Probe::kHeld;
}

}  // namespace shmbus::archive
