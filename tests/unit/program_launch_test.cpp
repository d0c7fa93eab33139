// start_program (support/program_launch.hpp), the one fork and exec of the tests and the soak:
// the environment, descriptors, process group and signals a started program gets.
#include "support/program_launch.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <shmbus/detail/util/unique_fd.hpp>
#include <string>
#include <thread>

#include "support/child_process.hpp"

namespace shmbus::test {
namespace {

using namespace std::chrono_literals;
using util::UniqueFd;

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

struct Finished {
    std::string output;  // what it wrote on the descriptor watched, line by line
    int status = 0;      // its raw wait status
};

/// Runs `launch` to its end, its stdout or stderr (`watched`) into a pipe to the test.
Finished run_to_end(ProgramLaunch launch, int watched) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    const UniqueFd from_program(fds[0]);
    UniqueFd to_test(fds[1]);
    (watched == STDOUT_FILENO ? launch.stdout_fd : launch.stderr_fd) = to_test.get();
    const pid_t pid = start_program(launch);
    REQUIRE(pid > 0);
    to_test.reset();  // the program's copy is the only writer left: its end is end of file
    Finished finished;
    LineReader reader(from_program.get());
    const auto deadline = deadline_in(10s);
    while (const auto line = reader.read_line(deadline))
        finished.output += *line + "\n";
    CHECK_MESSAGE(reader.at_end(), "no end of file from the program within 10 s");
    finished.status = status_of(pid);
    return finished;
}

/// The value of field `name` ("SigBlk") in /proc/self/status as a started program sees it.
std::optional<unsigned long long> status_field(const std::string& status, const std::string& name) {
    const std::size_t at = status.find("\n" + name + ":");
    if (at == std::string::npos) return std::nullopt;
    return std::stoull(status.substr(at + name.size() + 2), nullptr, 16);
}

}  // namespace

TEST_CASE(
    "a started program gets this process's environment, with the settings given and without the "
    "variables unset") {
    REQUIRE(::setenv("SHMBUS_LAUNCH_KEPT", "kept", 1) == 0);
    REQUIRE(::setenv("SHMBUS_LAUNCH_REPLACED", "old", 1) == 0);
    REQUIRE(::setenv("SHMBUS_LAUNCH_UNSET", "there", 1) == 0);
    ProgramLaunch launch;
    launch.argv = {"/bin/sh", "-c",
                   "echo \"$SHMBUS_LAUNCH_KEPT $SHMBUS_LAUNCH_REPLACED $SHMBUS_LAUNCH_ADDED "
                   "${SHMBUS_LAUNCH_UNSET-unset}\""};
    launch.environment = {"SHMBUS_LAUNCH_REPLACED=new", "SHMBUS_LAUNCH_ADDED=added"};
    launch.unset_environment = {"SHMBUS_LAUNCH_UNSET"};
    const Finished finished = run_to_end(launch, STDOUT_FILENO);
    ::unsetenv("SHMBUS_LAUNCH_KEPT");
    ::unsetenv("SHMBUS_LAUNCH_REPLACED");
    ::unsetenv("SHMBUS_LAUNCH_UNSET");
    CHECK(finished.output == "kept new added unset\n");
    CHECK((WIFEXITED(finished.status) && WEXITSTATUS(finished.status) == 0));
}

TEST_CASE("a program that cannot be executed exits 127 and says why on its stderr") {
    ProgramLaunch launch;
    launch.argv = {"/nonexistent/shmbus-program"};
    const Finished finished = run_to_end(launch, STDERR_FILENO);
    CHECK(finished.output == "exec /nonexistent/shmbus-program: No such file or directory\n");
    CHECK((WIFEXITED(finished.status) && WEXITSTATUS(finished.status) == kExecFailedStatus));
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
    "a program starts with the signal mask given, and with the default action for the signals "
    "named, though this process ignores them") {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction previous {};
    REQUIRE(::sigaction(SIGPIPE, &ignore, &previous) == 0);
    ProgramLaunch launch;
    launch.argv = {"/bin/cat", "/proc/self/status"};
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    launch.signal_mask = mask;
    launch.default_signals = {SIGPIPE};
    const Finished finished = run_to_end(launch, STDOUT_FILENO);
    ::sigaction(SIGPIPE, &previous, nullptr);
    const auto blocked = status_field(finished.output, "SigBlk");
    const auto ignored = status_field(finished.output, "SigIgn");
    REQUIRE(blocked.has_value());
    REQUIRE(ignored.has_value());
    CHECK(*blocked == 1ull << (SIGTERM - 1));
    CHECK((*ignored & (1ull << (SIGPIPE - 1))) == 0);
}

}  // namespace shmbus::test
