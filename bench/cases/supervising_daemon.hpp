// shmbusd supervising a case's scratch directory while the case runs: the daemon is never on
// the data path, and this is how the harness shows what it costs anyway. Started after the
// case's topics exist and its processes attached, unpinned (as a service runs), with the given
// check interval; stopped with SIGTERM when the case ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace shmbus::bench {

class SupervisingDaemon {
  public:
    /// Starts `binary --config <file> --dir <directory>` and returns once its control socket
    /// exists and two check intervals have passed (every topic adopted and checked).
    SupervisingDaemon(const std::filesystem::path& binary, const std::filesystem::path& directory,
                      std::chrono::milliseconds check_interval);
    ~SupervisingDaemon();
    SupervisingDaemon(const SupervisingDaemon&) = delete;
    SupervisingDaemon& operator=(const SupervisingDaemon&) = delete;

    /// CPU time the daemon used so far.
    [[nodiscard]] std::uint64_t cpu_ns() const;

  private:
    pid_t pid_ = -1;
    std::filesystem::path config_;
};

}  // namespace shmbus::bench
