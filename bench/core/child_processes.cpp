#include "core/child_processes.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "core/clock.hpp"

namespace shmbus::bench {
namespace {

void blocking_sigchld(bool block) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    (void)::sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

}  // namespace

ChildProcesses::ChildProcesses(SharedControl& control) : control_(control) {
    // SIGCHLD stays pending instead of being delivered, so wait_all can sleep in sigtimedwait
    // until a child exits: the driver takes no CPU from the measured processes while it waits.
    blocking_sigchld(true);
}

ChildProcesses::~ChildProcesses() {
    kill_remaining();
    blocking_sigchld(false);
}

void ChildProcesses::spawn(std::size_t index, const std::function<void(ProcessReport&)>& body) {
    if (index >= kMaxProcesses) throw std::invalid_argument("too many processes for one case");
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        blocking_sigchld(false);
        ProcessReport& report = control_.report(index);
        int status = 0;
        try {
            body(report);
            report.finished = 1;
        } catch (const std::exception& error) {
            std::snprintf(report.error, sizeof(report.error), "%s", error.what());
            status = 1;
        } catch (...) {
            std::snprintf(report.error, sizeof(report.error), "unknown exception");
            status = 1;
        }
        // exit, not _exit: libraries that registered this process with a daemon (iceoryx's
        // runtime with RouDi) deregister in their static destructors.
        std::exit(status);
    }
    children_.push_back({pid, index, false, 0});
}

void ChildProcesses::reap_ready() {
    for (Child& child : children_) {
        if (child.reaped) continue;
        int status = 0;
        if (::waitpid(child.pid, &status, WNOHANG) == child.pid) {
            child.reaped = true;
            child.status = status;
        }
    }
}

bool ChildProcesses::all_running() {
    reap_ready();
    for (const Child& child : children_) {
        if (child.reaped) return false;
    }
    return true;
}

std::vector<std::string> ChildProcesses::wait_all(std::chrono::nanoseconds timeout) {
    const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(timeout.count());
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (;;) {
        reap_ready();
        bool all_reaped = true;
        for (const Child& child : children_)
            all_reaped = all_reaped && child.reaped;
        if (all_reaped) break;
        const std::uint64_t now = monotonic_ns();
        if (now >= deadline) break;
        const std::uint64_t left = deadline - now;
        timespec wait{};
        wait.tv_sec = static_cast<time_t>(left / 1'000'000'000u);
        wait.tv_nsec = static_cast<long>(left % 1'000'000'000u);
        (void)::sigtimedwait(&set, nullptr, &wait);
    }
    std::vector<std::string> failures;
    for (const Child& child : children_) {
        const ProcessReport& report = control_.report(child.index);
        const std::string who = "process " + std::to_string(child.index);
        if (!child.reaped) {
            failures.push_back(who + " did not finish in time (killed)");
        } else if (WIFSIGNALED(child.status)) {
            failures.push_back(who + " died of signal " + std::to_string(WTERMSIG(child.status)));
        } else if (WEXITSTATUS(child.status) != 0 || report.finished == 0) {
            failures.push_back(who + ": " +
                               (report.error[0] != '\0' ? report.error : "exited with an error"));
        }
    }
    kill_remaining();
    return failures;
}

void ChildProcesses::kill_remaining() noexcept {
    for (Child& child : children_) {
        if (child.reaped) continue;
        (void)::kill(child.pid, SIGKILL);
        int status = 0;
        (void)::waitpid(child.pid, &status, 0);
        child.reaped = true;
        child.status = status;
    }
}

}  // namespace shmbus::bench
