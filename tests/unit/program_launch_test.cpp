// start_program (support/program_launch.hpp), the one fork and exec of the tests and the soak:
// the environment, descriptors, process group and signals a started program gets.
#include "support/program_launch.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "support/child_process.hpp"

namespace {

using namespace std::chrono_literals;
using shmbus::test::Clock;
using shmbus::test::deadline_in;
using shmbus::test::ProgramLaunch;
using shmbus::test::start_program;

struct Pipe {
    Pipe() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
    ~Pipe() {
        close_write();
        if (fds[0] >= 0) ::close(fds[0]);
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    void close_write() {
        if (fds[1] >= 0) ::close(fds[1]);
        fds[1] = -1;
    }
    /// Everything written into the pipe, once every writer has closed it.
    std::string drain() {
        close_write();
        std::string text;
        char chunk[4096];
        for (;;) {
            const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
            if (got > 0) {
                text.append(chunk, static_cast<std::size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                return text;
            }
        }
    }
    int fds[2] = {-1, -1};
};

/// The raw wait status of `pid`, which must end within ten seconds (or the test fails).
int status_of(pid_t pid) {
    const auto deadline = deadline_in(10s);
    for (;;) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) return status;
        if (Clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            FAIL("the program did not end within 10 s");
        }
        std::this_thread::sleep_for(1ms);  // pacing the polling only
    }
}

/// The value of field `name` ("SigBlk") in /proc/self/status as a started program sees it.
std::optional<unsigned long long> status_field(const std::string& status, const std::string& name) {
    const std::size_t at = status.find("\n" + name + ":");
    if (at == std::string::npos) return std::nullopt;
    return std::stoull(status.substr(at + name.size() + 2), nullptr, 16);
}

}  // namespace

TEST_CASE(
    "a started program gets this process's environment, with the settings given and without "
    "the variables unset") {
    REQUIRE(::setenv("SHMBUS_LAUNCH_KEPT", "kept", 1) == 0);
    REQUIRE(::setenv("SHMBUS_LAUNCH_REPLACED", "old", 1) == 0);
    REQUIRE(::setenv("SHMBUS_LAUNCH_UNSET", "there", 1) == 0);
    Pipe out;
    ProgramLaunch launch;
    launch.argv = {"/bin/sh", "-c",
                   "echo \"$SHMBUS_LAUNCH_KEPT $SHMBUS_LAUNCH_REPLACED $SHMBUS_LAUNCH_ADDED "
                   "${SHMBUS_LAUNCH_UNSET-unset}\""};
    launch.environment = {"SHMBUS_LAUNCH_REPLACED=new", "SHMBUS_LAUNCH_ADDED=added"};
    launch.unset_environment = {"SHMBUS_LAUNCH_UNSET"};
    launch.stdout_fd = out.fds[1];
    const pid_t pid = start_program(launch);
    REQUIRE(pid > 0);
    CHECK(out.drain() == "kept new added unset\n");
    const int status = status_of(pid);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    ::unsetenv("SHMBUS_LAUNCH_KEPT");
    ::unsetenv("SHMBUS_LAUNCH_REPLACED");
    ::unsetenv("SHMBUS_LAUNCH_UNSET");
}

TEST_CASE("a program that cannot be executed exits 127 and says why on its stderr") {
    Pipe err;
    ProgramLaunch launch;
    launch.argv = {"/nonexistent/shmbus-program"};
    launch.stderr_fd = err.fds[1];
    const pid_t pid = start_program(launch);
    REQUIRE(pid > 0);
    CHECK(err.drain() == "exec /nonexistent/shmbus-program: No such file or directory\n");
    const int status = status_of(pid);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == shmbus::test::kExecFailedStatus));
}

TEST_CASE("an empty argv starts nothing and reports EINVAL") {
    errno = 0;
    CHECK(start_program(ProgramLaunch{}) == -1);
    CHECK(errno == EINVAL);
}

TEST_CASE("a program started in a process group of its own leads it as soon as it is started") {
    ProgramLaunch launch;
    launch.argv = {"/bin/sleep", "30"};
    launch.own_process_group = true;
    const pid_t pid = start_program(launch);
    REQUIRE(pid > 0);
    CHECK(::getpgid(pid) == pid);
    CHECK(::kill(-pid, SIGKILL) == 0);
    const int status = status_of(pid);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
}

TEST_CASE(
    "a program starts with the signal mask given, and with the default action for the "
    "signals named, though this process ignores them") {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction previous {};
    REQUIRE(::sigaction(SIGPIPE, &ignore, &previous) == 0);
    Pipe out;
    ProgramLaunch launch;
    launch.argv = {"/bin/cat", "/proc/self/status"};
    launch.stdout_fd = out.fds[1];
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    launch.signal_mask = mask;
    launch.default_signals = {SIGPIPE};
    const pid_t pid = start_program(launch);
    ::sigaction(SIGPIPE, &previous, nullptr);
    REQUIRE(pid > 0);
    const std::string status = out.drain();
    (void)status_of(pid);
    const auto blocked = status_field(status, "SigBlk");
    const auto ignored = status_field(status, "SigIgn");
    REQUIRE(blocked.has_value());
    REQUIRE(ignored.has_value());
    CHECK(*blocked == 1ull << (SIGTERM - 1));
    CHECK((*ignored & (1ull << (SIGPIPE - 1))) == 0);
}
