#include "support/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "support/program_launch.hpp"

namespace shmbus::test {
namespace {

// The test's ends of every child's pipes. A child forked later must not hold them open, or an
// earlier child would never see end of file when the test closes its input.
std::vector<int>& parent_ends() {
    static std::vector<int> fds;
    return fds;
}

void forget_parent_end(int fd) {
    auto& fds = parent_ends();
    fds.erase(std::remove(fds.begin(), fds.end(), fd), fds.end());
}

void close_fd(int& fd) {
    if (fd >= 0) {
        forget_parent_end(fd);
        ::close(fd);
        fd = -1;
    }
}

struct Pipe {
    int read = -1;
    int write = -1;
};

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("pipe2: ") + ::strerror(errno));
    }
    return Pipe{fds[0], fds[1]};
}

ChildExit exit_of(int status) {
    ChildExit result;
    if (WIFEXITED(status)) {
        result.exited = true;
        result.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
    }
    return result;
}

// Called in the child right after fork: die with the test, and drop what belongs to the test.
void become_child(pid_t test_pid) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != test_pid) ::_exit(121);  // the test died before prctl took effect
    ::signal(SIGPIPE, SIG_IGN);
    for (const int fd : parent_ends())
        ::close(fd);
    parent_ends().clear();
}

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t written = ::write(fd, text.data(), text.size());
        if (written < 0) {
            if (errno == EINTR) continue;
            return;  // the other side is gone; the test notices through exit statuses
        }
        text.remove_prefix(static_cast<std::size_t>(written));
    }
}

}  // namespace

std::string ChildExit::describe() const {
    if (exited) return "exited with status " + std::to_string(code);
    return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

std::optional<std::string> LineReader::read_line(Clock::time_point deadline) {
    for (;;) {
        if (const auto newline = buffer_.find('\n'); newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            return line;
        }
        if (eof_ || fd_ < 0) return std::nullopt;
        // Past the deadline, what the child already wrote is still read (a zero timeout).
        const auto now = Clock::now();
        const long long remaining =
            now >= deadline
                ? 0
                : std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
        pollfd waiting{fd_, POLLIN, 0};
        const int ready =
            ::poll(&waiting, 1, static_cast<int>(std::min<long long>(remaining, 1000)));
        if (ready < 0 && errno != EINTR) return std::nullopt;
        if (ready <= 0) {
            if (Clock::now() >= deadline) return std::nullopt;
            continue;
        }
        char chunk[4096];
        const ssize_t got = ::read(fd_, chunk, sizeof chunk);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            eof_ = true;
        } else if (got == 0) {
            eof_ = true;
        } else {
            buffer_.append(chunk, static_cast<std::size_t>(got));
        }
    }
}

void ChildLink::send(std::string_view line) const {
    std::string text(line);
    text += '\n';
    write_all(to_parent_, text);
}

std::optional<std::string> ChildLink::receive() {
    return reader_.read_line(Clock::time_point::max());
}

Child Child::fork(std::string name, const std::function<int(ChildLink&)>& body) {
    const Pipe up = make_pipe();
    const Pipe down = make_pipe();
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    const pid_t test_pid = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + ::strerror(errno));
    if (pid == 0) {
        become_child(test_pid);
        ::close(up.read);
        ::close(down.write);
        int status = 0;
        try {
            ChildLink link(up.write, down.read);
            status = body(link);
        } catch (const std::exception& error) {
            std::fprintf(stderr, "child '%s': exception: %s\n", name.c_str(), error.what());
            status = 120;
        } catch (...) {
            std::fprintf(stderr, "child '%s': unknown exception\n", name.c_str());
            status = 120;
        }
        std::fflush(nullptr);
        ::_exit(status);
    }
    ::close(up.write);
    ::close(down.read);
    Child child;
    child.name_ = std::move(name);
    child.pid_ = pid;
    child.from_child_ = up.read;
    child.to_child_ = down.write;
    child.reader_ = LineReader(up.read);
    parent_ends().push_back(up.read);
    parent_ends().push_back(down.write);
    return child;
}

Child Child::spawn(std::string name, const std::vector<std::string>& argv,
                   const std::vector<std::string>& environment) {
    if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
    const Pipe up = make_pipe();
    const Pipe down = make_pipe();
    ProgramLaunch launch;
    launch.argv = argv;
    launch.environment = environment;
    launch.stdin_fd = down.read;
    launch.stdout_fd = up.write;
    // A Child::fork child ignores SIGPIPE (become_child), and an ignored signal stays ignored
    // across exec: the program gets the default action back.
    launch.default_signals = {SIGPIPE};
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    const pid_t pid = start_program(launch);
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + ::strerror(errno));
    ::close(up.write);
    ::close(down.read);
    Child child;
    child.name_ = std::move(name);
    child.pid_ = pid;
    child.from_child_ = up.read;
    child.to_child_ = down.write;
    child.reader_ = LineReader(up.read);
    parent_ends().push_back(up.read);
    parent_ends().push_back(down.write);
    return child;
}

Child::Child(Child&& other) noexcept {
    *this = std::move(other);
}

Child& Child::operator=(Child&& other) noexcept {
    if (this != &other) {
        release();
        name_ = std::move(other.name_);
        pid_ = other.pid_;
        from_child_ = other.from_child_;
        to_child_ = other.to_child_;
        reader_ = std::move(other.reader_);
        exit_ = other.exit_;
        other.pid_ = -1;
        other.from_child_ = -1;
        other.to_child_ = -1;
        other.exit_.reset();
    }
    return *this;
}

Child::~Child() {
    release();
}

void Child::release() noexcept {
    if (running()) {
        try {
            (void)kill_and_reap();
        } catch (...) {
        }
    }
    close_fd(from_child_);
    close_fd(to_child_);
    pid_ = -1;
}

std::optional<ChildExit> Child::wait_until(Clock::time_point deadline) {
    if (exit_) return exit_;
    if (pid_ <= 0) return std::nullopt;
    auto pause = std::chrono::microseconds(200);
    for (;;) {
        int status = 0;
        const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
        if (reaped == pid_) {
            exit_ = exit_of(status);
            return exit_;
        }
        if (reaped < 0 && errno != EINTR) {
            throw std::runtime_error("waitpid " + std::to_string(pid_) + ": " + ::strerror(errno));
        }
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(5000));
    }
}

bool Child::wait_stopped(Clock::time_point deadline) {
    if (exit_ || pid_ <= 0) return false;
    auto pause = std::chrono::microseconds(200);
    for (;;) {
        int status = 0;
        const pid_t reaped = ::waitpid(pid_, &status, WNOHANG | WUNTRACED);
        if (reaped == pid_) {
            if (WIFSTOPPED(status)) return true;
            exit_ = exit_of(status);
            return false;
        }
        if (reaped < 0 && errno != EINTR) return false;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(5000));
    }
}

void Child::kill(int signal) const {
    if (pid_ > 0 && !exit_) ::kill(pid_, signal);
}

ChildExit Child::kill_and_reap() {
    if (exit_) return *exit_;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
        if (errno != EINTR) {
            exit_ = ChildExit{false, 0, SIGKILL};
            return *exit_;
        }
    }
    exit_ = exit_of(status);
    return *exit_;
}

std::optional<std::string> Child::receive_line(Clock::time_point deadline) {
    return reader_.read_line(deadline);
}

void Child::send(std::string_view line) const {
    if (to_child_ < 0) return;
    std::string text(line);
    text += '\n';
    write_all(to_child_, text);
}

void Child::close_input() {
    close_fd(to_child_);
}

Child& ChildGroup::add(Child child) {
    children_.push_back(std::move(child));
    return children_.back();
}

std::string ChildGroup::wait_all(Clock::time_point deadline,
                                 const std::function<std::string()>& progress) {
    std::string problems;
    bool timed_out = false;
    for (auto& child : children_) {
        if (!child.wait_until(deadline)) {
            timed_out = true;
            break;
        }
    }
    if (timed_out) {
        std::string pending;
        for (auto& child : children_) {
            if (child.running() && !child.wait_until(Clock::now())) {
                pending += "\n  still running at the deadline: " + child.name() + " (pid " +
                           std::to_string(child.pid()) + ")";
            }
        }
        // Progress first, while the children's shared counters are what they were.
        const std::string done_so_far = progress ? "\n  progress: " + progress() : "";
        for (auto& child : children_) {
            if (child.running()) (void)child.kill_and_reap();
        }
        problems += "timed out:" + pending + done_so_far;
    }
    for (auto& child : children_) {
        const auto& end = child.exit();
        if (end && !end->ok() && !(timed_out && end->signal == SIGKILL)) {
            problems += "\n  " + child.name() + " " + end->describe();
        }
    }
    return problems;
}

std::string peer_program() {
    return SHMBUS_TEST_PEER_PATH;
}

}  // namespace shmbus::test
