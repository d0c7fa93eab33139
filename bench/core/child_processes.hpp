// The measured processes of one case: forked from the driver, each running one body and
// leaving through exit, with any failure written into its report for the driver to print.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/control_block.hpp"

namespace shmbus::bench {

class ChildProcesses {
  public:
    explicit ChildProcesses(SharedControl& control);
    /// Kills and reaps whatever still runs.
    ~ChildProcesses();
    ChildProcesses(const ChildProcesses&) = delete;
    ChildProcesses& operator=(const ChildProcesses&) = delete;

    /// Forks a process that runs `body` with report `index`; an exception it throws becomes the
    /// report's error and exit status 1.
    void spawn(std::size_t index, const std::function<void(ProcessReport&)>& body);

    [[nodiscard]] std::size_t count() const noexcept { return children_.size(); }

    /// true while no process has exited (reaping those that have).
    [[nodiscard]] bool all_running();

    /// Waits until every process has exited, at most `timeout`; then kills those left. Returns
    /// the failures in words (empty if every process exited with status 0 in time).
    [[nodiscard]] std::vector<std::string> wait_all(std::chrono::nanoseconds timeout);

  private:
    struct Child {
        pid_t pid = -1;
        std::size_t index = 0;
        bool reaped = false;
        int status = 0;
    };
    void reap_ready();
    void kill_remaining() noexcept;

    SharedControl& control_;
    std::vector<Child> children_;
};

}  // namespace shmbus::bench
