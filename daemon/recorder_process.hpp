// One topic's recorder: a `shmbus record` process that shmbusd starts, restarts and stops
// (docs/ARCHIVE.md, "Recording from shmbusd"; docs/CONFIG.md, [topics.NAME.archive]).
//
//   start     fork and exec `recorder_command --dir BUS record TOPIC -o DIR ...` with the
//             archive's options, stdout on /dev/null and stderr on a pipe the daemon drains,
//             default signal dispositions and an empty signal mask (the daemon blocks the
//             signals its signalfd reads; a child must not inherit that), and SIGTERM as its
//             parent-death signal, so that it ends with a daemon that is killed
//   exit      logged with its status and the last line it wrote on stderr, then started again
//             after a backoff: 100 ms, doubling to 10 s, back to 100 ms after a run that
//             archived something (DIR/.progress moved) or lasted 30 s: a crash loop backs off,
//             a working recorder killed now and then comes back at once
//   stop      SIGTERM, then SIGKILL after 5 s (shutdown, and a reload that changed its settings)
//
// A separate process, not a thread of the daemon: a recorder stuck on a slow or full disk
// cannot stall the supervision of every topic, and a crash in one cannot take the daemon down.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <shmbus/detail/util/unique_fd.hpp>
#include <string>
#include <vector>

#include "config.hpp"

namespace shmbusd {

class RecorderProcess {
  public:
    using Clock = std::chrono::steady_clock;

    RecorderProcess(std::string topic, ArchiveSettings settings, std::filesystem::path command,
                    std::filesystem::path bus_directory);
    ~RecorderProcess();  // stop()
    RecorderProcess(const RecorderProcess&) = delete;
    RecorderProcess& operator=(const RecorderProcess&) = delete;

    /// Reaps the process if it ended (logging why), drains its stderr, and starts it if it is
    /// not running and its backoff has passed. Never blocks.
    void tick(Clock::time_point now);

    /// Asks the process to end (SIGTERM); a no-op if it is not running.
    void request_stop() noexcept;
    /// Waits until `deadline` for the process to end, then SIGKILLs and reaps it. No restart
    /// follows: the daemon is stopping, or replacing this recorder.
    void finish_stop(Clock::time_point deadline) noexcept;
    void stop() noexcept;

    /// When tick() next has something to do (a restart due); time_point::max() if nothing.
    [[nodiscard]] Clock::time_point next_deadline() const noexcept;
    /// The running process, or -1.
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    /// How many times a process was started: the bookmark waits for a new one after an eviction.
    [[nodiscard]] std::uint64_t starts() const noexcept { return starts_; }
    [[nodiscard]] const ArchiveSettings& settings() const noexcept { return settings_; }
    [[nodiscard]] const std::filesystem::path& command() const noexcept { return command_; }

    static constexpr std::chrono::milliseconds kFirstBackoff{100};
    static constexpr std::chrono::milliseconds kMaxBackoff{10'000};
    static constexpr std::chrono::milliseconds kStableRun{30'000};
    static constexpr std::chrono::milliseconds kStopGrace{5'000};

  private:
    [[nodiscard]] std::vector<std::string> arguments() const;
    void start(Clock::time_point now);
    /// Reads what the pipe holds, keeping the last complete line; at end of file, the rest.
    void drain_stderr() noexcept;
    void ended(int status, Clock::time_point now);

    std::string topic_;
    ArchiveSettings settings_;
    std::filesystem::path command_;
    std::filesystem::path bus_directory_;
    pid_t pid_ = -1;
    shmbus::util::UniqueFd stderr_;  // read end, non-blocking
    std::string partial_;            // stderr since its last newline
    std::string last_line_;          // its last complete line
    Clock::time_point started_at_{};
    std::uint64_t archived_at_start_ = 0;  // DIR/.progress's next sequence when it started
    Clock::time_point restart_at_{};       // when not running: when to start again
    std::chrono::milliseconds backoff_ = kFirstBackoff;
    std::uint64_t starts_ = 0;
    bool start_failed_reported_ = false;
};

}  // namespace shmbusd
