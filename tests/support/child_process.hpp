// Child processes for multi-process tests, every wait bounded by a deadline.
//
//   auto child = Child::fork("subscriber 1", [&](ChildLink& link) {
//       ...                       // runs in the child; never use doctest assertions here
//       link.send("ready");
//       return 0;                 // the child's exit status
//   });
//   REQUIRE(child.receive_line(deadline_in(5s)) == "ready");
//   const auto exit = child.wait_until(deadline_in(5s));
//
// A child is killed (SIGKILL) if the test process dies (PR_SET_PDEATHSIG), and when its Child
// object is destroyed while it still runs, so a failing test never leaves processes behind.
// Each child has two line-oriented pipes to the test: ChildLink::send / Child::receive_line and
// Child::send / ChildLink::receive. Waiting polls waitpid(WNOHANG) with short sleeps: sleeps
// serve only the waiting, never the correctness of a test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus::test {

using Clock = std::chrono::steady_clock;

[[nodiscard]] inline Clock::time_point deadline_in(Clock::duration timeout) {
    return Clock::now() + timeout;
}

/// How a child ended.
struct ChildExit {
    bool exited = false;  // by exit(); otherwise killed by `signal`
    int code = 0;
    int signal = 0;

    [[nodiscard]] bool ok() const noexcept { return exited && code == 0; }
    /// "exited with status 3", "killed by signal 9 (Killed)".
    [[nodiscard]] std::string describe() const;
};

/// Buffered reading of lines from a descriptor, each read bounded by a deadline.
class LineReader {
  public:
    LineReader() = default;
    explicit LineReader(int fd) : fd_(fd) {}
    /// The next line without its newline; nullopt at the deadline or at end of file.
    [[nodiscard]] std::optional<std::string> read_line(Clock::time_point deadline);
    [[nodiscard]] bool at_end() const noexcept { return eof_; }

  private:
    int fd_ = -1;
    std::string buffer_;
    bool eof_ = false;
};

/// The child's end of its two pipes.
class ChildLink {
  public:
    ChildLink(int to_parent, int from_parent) : to_parent_(to_parent), reader_(from_parent) {}
    /// Sends one line to the test (a newline is added).
    void send(std::string_view line) const;
    /// Waits for one line from the test; nullopt if the test closed the pipe or died.
    [[nodiscard]] std::optional<std::string> receive();
    /// Blocks until the test sends a line or goes away.
    void wait_for_parent() { (void)receive(); }

  private:
    int to_parent_;
    LineReader reader_;
};

class Child {
  public:
    /// Forks a child that runs `body` and exits with its result through _exit. An exception
    /// escaping `body` is printed on stderr and exits with status 120.
    [[nodiscard]] static Child fork(std::string name, const std::function<int(ChildLink&)>& body);

    /// Forks and executes `argv` (argv[0] is the program's path) with `environment` added to
    /// this process's. The program's stdin and stdout are the two line pipes.
    [[nodiscard]] static Child spawn(std::string name, const std::vector<std::string>& argv,
                                     const std::vector<std::string>& environment = {});

    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    /// Kills and reaps the child if it still runs.
    ~Child();

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    /// True until wait_until or kill_and_reap has reaped the child.
    [[nodiscard]] bool running() const noexcept { return pid_ > 0 && !exit_; }
    [[nodiscard]] const std::optional<ChildExit>& exit() const noexcept { return exit_; }

    /// Waits for the child to end, up to `deadline`. nullopt: still running at the deadline.
    std::optional<ChildExit> wait_until(Clock::time_point deadline);
    /// Waits for the child to stop (SIGSTOP, e.g. a fault point). False at the deadline or if
    /// it ended instead (exit() then says how).
    bool wait_stopped(Clock::time_point deadline);

    /// Sends `signal` to the child.
    void kill(int signal) const;
    /// SIGKILL, then reaps it (bounded: a SIGKILLed process always ends).
    ChildExit kill_and_reap();

    /// One line the child sent; nullopt at the deadline or if the child closed its end.
    [[nodiscard]] std::optional<std::string> receive_line(Clock::time_point deadline);
    /// Sends one line to the child.
    void send(std::string_view line) const;
    /// Closes the test's end of the pipe into the child: its receive() returns nullopt.
    void close_input();

  private:
    Child() = default;
    void release() noexcept;

    std::string name_;
    pid_t pid_ = -1;
    int from_child_ = -1;
    int to_child_ = -1;
    LineReader reader_;
    std::optional<ChildExit> exit_;
};

/// Children that must all finish by one deadline.
class ChildGroup {
  public:
    Child& add(Child child);
    [[nodiscard]] std::vector<Child>& children() noexcept { return children_; }

    /// Waits until every child has ended or `deadline` passes. On time: an empty string if every
    /// child exited with status 0, else a line per child that did not. At the deadline every
    /// child still running is killed and the message names each one, followed by `progress()`
    /// (what the children had done so far) if given.
    [[nodiscard]] std::string wait_all(Clock::time_point deadline,
                                       const std::function<std::string()>& progress = {});

  private:
    std::vector<Child> children_;
};

/// The path of the test peer program (support/peer), built with the tests.
[[nodiscard]] std::string peer_program();

}  // namespace shmbus::test
