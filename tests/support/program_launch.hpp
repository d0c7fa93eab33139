// Starting a program in a child process: the one fork and execve of the tests and the soak.
//
//   ProgramLaunch launch;
//   launch.argv = {path, "--dir", dir};
//   launch.environment = {"SHMBUS_FAULT=before_commit:stop:1"};
//   launch.stdout_fd = launch.stderr_fd = log_fd;
//   const pid_t pid = start_program(launch);
//
// Everything the child needs (argv, the environment, the message it writes if exec fails) is
// built before fork. Between fork and execve the child calls only async-signal-safe functions:
// setpgid, prctl, getppid, signal, sigprocmask, dup2, execve, write and _exit. So a test with
// threads running may start a program, and no lock another thread held at the fork is touched.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace shmbus::test {

struct ProgramLaunch {
    /// The program and its arguments; argv[0] is the program's path (PATH is not searched).
    std::vector<std::string> argv;
    /// NAME=VALUE settings, added to this process's environment, each replacing any variable of
    /// its name there.
    std::vector<std::string> environment = {};
    /// Names of variables of this process's environment that the program does not get.
    std::vector<std::string> unset_environment = {};

    /// What the program gets as stdin, stdout and stderr; -1 leaves this process's own.
    int stdin_fd = -1;
    int stdout_fd = -1;
    int stderr_fd = -1;

    /// A process group of its own, led by the program (set in the child and again in the parent,
    /// so the group exists when start_program returns): kill(-pid, ...) reaches what it starts.
    bool own_process_group = false;
    /// SIGKILLed when the thread that started it ends (PR_SET_PDEATHSIG), so that it never
    /// outlives a test; if this process is already gone by then, the child exits at once.
    bool die_with_parent = true;
    /// The signal mask the program starts with; nullopt keeps the calling thread's.
    std::optional<sigset_t> signal_mask = std::nullopt;
    /// Signals set back to their default action. A signal this process ignores stays ignored
    /// across execve; one it handles is reset by execve anyway.
    std::vector<int> default_signals = {};
};

/// What the child exits with when it cannot become the program.
inline constexpr int kExecFailedStatus = 127;      // execve failed: "exec PATH: reason" on stderr
inline constexpr int kRedirectFailedStatus = 122;  // a descriptor could not be put in place
inline constexpr int kParentGoneStatus = 127;      // this process died before prctl took effect

/// Forks, and executes `launch.argv` in the child. Returns the child's pid; -1 with errno set
/// if argv is empty (EINVAL) or fork failed.
[[nodiscard]] pid_t start_program(const ProgramLaunch& launch);

}  // namespace shmbus::test
