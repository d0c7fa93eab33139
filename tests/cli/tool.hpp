// Running the shmbus tool from tests: to completion, or in the background with its output
// streamed. Every wait is bounded; a process still running when its handle goes away is killed
// with its whole process group.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace shmbus::test::cli {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// $SHMBUS_BUILD_DIR/client/cli/shmbus; fails the test if it is not there.
[[nodiscard]] std::string tool_path();

/// How a process ended.
struct ProcessExit {
    bool exited = false;  // by exit(); otherwise killed by `signal`
    int code = 0;
    int signal = 0;
    /// "exit status 3" or "signal 9".
    [[nodiscard]] std::string describe() const;
};

struct ToolResult {
    ProcessExit exit;
    std::string out;
    std::string err;
    [[nodiscard]] int status() const { return exit.exited ? exit.code : -1; }
};

struct RunOptions {
    std::string input = {};                     // written to stdin, which is then closed
    std::vector<std::string> environment = {};  // NAME=VALUE, added to this process's
    Clock::duration limit = 30s;                // the whole run, or the test fails
};

/// Runs `shmbus args...` to completion and collects its output.
[[nodiscard]] ToolResult run_tool(const std::vector<std::string>& args,
                                  const RunOptions& options = {});

/// A program running in the background in a process group of its own; stdin is /dev/null unless
/// given, stdout and stderr are pipes to the test.
class Process {
  public:
    /// Starts `argv` (argv[0] is a path) with `environment` added to this process's, and
    /// `stdin_fd` (if not -1) as its stdin.
    [[nodiscard]] static Process start(const std::vector<std::string>& argv,
                                       const std::vector<std::string>& environment = {},
                                       int stdin_fd = -1);
    /// Starts `shmbus args...`.
    [[nodiscard]] static Process start_tool(const std::vector<std::string>& args);

    Process(Process&& other) noexcept;
    Process& operator=(Process&&) = delete;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process();

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    /// Some of stdout: at least one byte, or "" at end of file, or nullopt if nothing came by
    /// `deadline`. stderr is collected meanwhile.
    [[nodiscard]] std::optional<std::string> read_output(Clock::time_point deadline);
    /// Closes the test's end of stdout: the program's next write fails with EPIPE.
    void close_output();
    /// Everything the program wrote on stderr so far.
    [[nodiscard]] const std::string& error_output() const noexcept { return err_; }

    /// Waits for the program to end, draining its pipes; nullopt if it still runs at `deadline`.
    [[nodiscard]] std::optional<ProcessExit> wait_until(Clock::time_point deadline);
    /// Everything left on stdout, then the exit; nullopt if either misses `deadline`.
    [[nodiscard]] std::optional<ProcessExit> finish(Clock::time_point deadline,
                                                    std::string& rest_of_output);

    void signal(int signal) const;

  private:
    Process() = default;
    /// Reads whatever is ready on stdout (into `out`, or dropped if null) and stderr, waiting
    /// until `deadline` for something. Returns false at the deadline.
    bool pump(Clock::time_point deadline, std::string* out);

    pid_t pid_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::string err_;
    bool reaped_ = false;
    ProcessExit exit_;
};

/// Whether `text` has `part` in it: what the tests ask of a tool's output.
[[nodiscard]] bool contains(const std::string& text, const std::string& part);

/// "FROM\n...TO\n": the numbered lines tests publish with `pub` and expect back from `sub`.
[[nodiscard]] std::string lines(int from, int to);

/// Publishes `records` to topic `name` in `dir`, one record each, through the library: they
/// must fit (try_offer).
void publish(const std::filesystem::path& dir, const std::string& name,
             const std::vector<std::string>& records);

/// Evicts the one subscriber attached to topic `name` in `dir`, as shmbusd evicts a subscriber
/// that holds publishers back, and publishes a record to wake it in case it sleeps.
void evict_the_subscriber(const std::filesystem::path& dir, const std::string& name);

/// Waits until topic `name` in `dir` has `count` live subscribers attached (a subscriber
/// started in another process is ready for records once it shows up here). Polls
/// collect_stats; fails the test at `deadline`.
void wait_for_live_subscribers(const std::filesystem::path& dir, const std::string& name,
                               std::size_t count, Clock::time_point deadline);

}  // namespace shmbus::test::cli
