#include "support/program_launch.hpp"

#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

extern char** environ;

namespace shmbus::test {
namespace {

std::string_view name_of(std::string_view assignment) {
    return assignment.substr(0, assignment.find('='));
}

/// This process's environment without the variables `launch` sets or unsets, then the ones it
/// sets, in its order.
std::vector<std::string> program_environment(const ProgramLaunch& launch) {
    std::vector<std::string> entries;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string_view name = name_of(*entry);
        const bool set =
            std::any_of(launch.environment.begin(), launch.environment.end(),
                        [&](const std::string& assignment) { return name_of(assignment) == name; });
        const bool unset =
            std::find(launch.unset_environment.begin(), launch.unset_environment.end(), name) !=
            launch.unset_environment.end();
        if (!set && !unset) entries.emplace_back(*entry);
    }
    entries.insert(entries.end(), launch.environment.begin(), launch.environment.end());
    return entries;
}

/// The null-terminated array execve takes, pointing into `strings`.
std::vector<char*> pointers_to(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (std::string& text : strings)
        pointers.push_back(text.data());
    pointers.push_back(nullptr);
    return pointers;
}

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t written = ::write(fd, text.data(), text.size());
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(written));
    }
}

}  // namespace

pid_t start_program(const ProgramLaunch& launch) {
    if (launch.argv.empty()) {
        errno = EINVAL;
        return -1;
    }
    // Built before fork: after it, the child allocates nothing and takes no lock.
    std::vector<std::string> argv = launch.argv;
    std::vector<std::string> environment = program_environment(launch);
    const std::vector<char*> argv_pointers = pointers_to(argv);
    const std::vector<char*> environment_pointers = pointers_to(environment);
    const std::string exec_failed = "exec " + launch.argv[0] + ": ";
    const int redirects[3][2] = {{launch.stdin_fd, STDIN_FILENO},
                                 {launch.stdout_fd, STDOUT_FILENO},
                                 {launch.stderr_fd, STDERR_FILENO}};

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid > 0) {
        // Also here, so the group exists before the caller signals it; whichever comes second
        // fails harmlessly.
        if (launch.own_process_group) ::setpgid(pid, pid);
        return pid;
    }

    // The child: async-signal-safe calls only, until execve.
    if (launch.own_process_group) ::setpgid(0, 0);
    if (launch.die_with_parent) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(kParentGoneStatus);  // died before prctl took effect
    }
    for (const int number : launch.default_signals)
        ::signal(number, SIG_DFL);
    if (launch.signal_mask) ::sigprocmask(SIG_SETMASK, &*launch.signal_mask, nullptr);
    for (const auto& [from, to] : redirects) {
        if (from >= 0 && ::dup2(from, to) < 0) ::_exit(kRedirectFailedStatus);
    }
    ::execve(argv_pointers[0], argv_pointers.data(), environment_pointers.data());
    // strerrordesc_np is a table lookup; strerror may translate, and so allocate.
    const char* const reason = ::strerrordesc_np(errno);
    write_all(STDERR_FILENO, exec_failed);
    write_all(STDERR_FILENO, reason != nullptr ? reason : "unknown error");
    write_all(STDERR_FILENO, "\n");
    ::_exit(kExecFailedStatus);
}

}  // namespace shmbus::test
