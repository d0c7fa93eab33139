// Running shmbusd (and other programs) from a test: started with fork/exec, stderr captured in
// a file, every wait bounded by a deadline, killed if the test gives up on it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace shmbus::test {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

/// How a process ended: exit status, or -signal.
struct Ended {
    int status = 0;
    [[nodiscard]] bool exited_ok() const noexcept { return status == 0; }
};

class Program {
  public:
    struct Options {
        std::vector<std::string> arguments = {};    // argv[1..]
        std::vector<std::string> environment = {};  // KEY=VALUE, over the test's own environment
        std::filesystem::path log = {};             // stdout and stderr go here (required)
    };

    Program(const std::filesystem::path& path, Options options);
    ~Program();  // SIGKILL and reap if still running
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    void signal(int signal) const;

    /// Waits up to `timeout` for the process to end; nullopt if it still runs.
    std::optional<Ended> wait_for_exit(SteadyClock::duration timeout);
    /// Waits up to `timeout` for the process to stop (SIGSTOP); true if it did.
    bool wait_for_stop(SteadyClock::duration timeout);

    /// Everything it has written so far.
    [[nodiscard]] std::string output() const;
    /// Waits up to `timeout` for `text` to appear in its output.
    bool wait_for_output(std::string_view text, SteadyClock::duration timeout) const;

  private:
    pid_t pid_ = -1;
    std::filesystem::path log_;
    std::optional<Ended> ended_;
};

/// The built shmbusd, started on `dir` with the given extra arguments; its log is kept in `dir`
/// so a failing test can print it.
class Daemon {
  public:
    struct Options {
        std::filesystem::path dir = {};
        std::optional<std::filesystem::path> config = std::nullopt;
        std::vector<std::string> extra_arguments = {};
        std::vector<std::string> environment = {};
        bool wait_until_ready = true;
    };

    explicit Daemon(const Options& options);

    [[nodiscard]] Program& program() noexcept { return program_; }
    [[nodiscard]] pid_t pid() const noexcept { return program_.pid(); }
    [[nodiscard]] std::string log() const { return program_.output(); }
    bool wait_for_log(std::string_view text, SteadyClock::duration timeout = 10s) const {
        return program_.wait_for_output(text, timeout);
    }
    /// SIGTERM, then waits for the exit.
    std::optional<Ended> stop(SteadyClock::duration timeout = 10s);

  private:
    static std::filesystem::path log_path(const std::filesystem::path& dir);
    Program program_;
};

/// Paths of the programs under test, from the build.
[[nodiscard]] std::filesystem::path shmbusd_path();
[[nodiscard]] std::filesystem::path fault_publisher_path();
[[nodiscard]] std::filesystem::path source_dir();
/// The shmbus CLI, if the build has one.
[[nodiscard]] std::optional<std::filesystem::path> cli_path();

/// Writes `text` to `path`, replacing it.
void write_file(const std::filesystem::path& path, std::string_view text);
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

/// Runs a program to completion (bounded), returning its status and output.
struct Run {
    int status = -1;
    std::string output;
};
[[nodiscard]] Run run_program(const std::filesystem::path& path,
                              const std::vector<std::string>& arguments,
                              SteadyClock::duration timeout = 30s,
                              const std::vector<std::string>& environment = {});

/// Polls `condition` until it holds or `timeout` passes.
template <typename Condition>
bool eventually(Condition&& condition, SteadyClock::duration timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (SteadyClock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);  // pacing the polling only
    }
}

}  // namespace shmbus::test
