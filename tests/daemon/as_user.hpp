// Running a piece of a test as another user (root tests only): a forked child that drops to
// `uid`, `gid` and `groups`, runs `body`, and exits with its result.
#pragma once

#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

namespace shmbus::test {

/// The child's exit status, or -1 if it did not finish within `timeout` (it is then killed).
template <typename Body>
int run_as(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, Body&& body,
           std::chrono::seconds timeout = std::chrono::seconds(20)) {
    const pid_t child = ::fork();
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 ||
            ::setuid(uid) != 0) {
            std::perror("dropping privileges");
            ::_exit(125);
        }
        int status = 126;
        try {
            status = body();
        } catch (const std::exception& error) {
            std::fprintf(stderr, "as uid %u: %s\n", static_cast<unsigned>(uid), error.what());
            status = 124;
        }
        std::fflush(nullptr);
        ::_exit(status);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int raw = 0;
        if (::waitpid(child, &raw, WNOHANG) == child) return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(child, SIGKILL);
            ::waitpid(child, &raw, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace shmbus::test
