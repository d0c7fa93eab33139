// One daemon per bus directory: an OFD write lock on byte 0 of <dir>/.shmbusd.lock, held for
// the daemon's life. The holder writes its pid into the file so that a second daemon can say
// which process it ran into. The kernel drops the lock when the daemon dies, however it dies.
#pragma once

#include <filesystem>
#include <shmbus/detail/util/unique_fd.hpp>
#include <string>

namespace shmbusd {

class DaemonLock {
  public:
    /// Takes the lock on `dir`'s lock file, creating the file if needed. Throws shmbus::Error:
    /// kBusy naming the running daemon's pid if another process holds it.
    explicit DaemonLock(const std::filesystem::path& dir);
    ~DaemonLock();
    DaemonLock(const DaemonLock&) = delete;
    DaemonLock& operator=(const DaemonLock&) = delete;

    [[nodiscard]] static std::filesystem::path path_for(const std::filesystem::path& dir);

  private:
    shmbus::util::UniqueFd fd_;
};

}  // namespace shmbusd
