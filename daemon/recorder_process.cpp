#include "recorder_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <shmbus/archive/progress_file.hpp>
#include <thread>

#include "config_values.hpp"

extern char** environ;

namespace shmbusd {
namespace {

// Enough of a recorder's stderr to hold its last line; it writes a line or two in a lifetime.
constexpr std::size_t kMaxLine = 4096;

/// How far the archive goes by its progress file (0 if it says nothing).
std::uint64_t archived(const std::filesystem::path& archive) noexcept {
    const auto progress = shmbus::archive::read_progress(archive);
    return progress ? progress->next_sequence.value_or(0) : 0;
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               ::strsignal(WTERMSIG(status)) + ")";
    }
    return "ended with status " + std::to_string(status);
}

}  // namespace

RecorderProcess::RecorderProcess(std::string topic, ArchiveSettings settings,
                                 std::filesystem::path command, std::filesystem::path bus_directory)
    : topic_(std::move(topic)),
      settings_(std::move(settings)),
      command_(std::move(command)),
      bus_directory_(std::move(bus_directory)) {}

RecorderProcess::~RecorderProcess() {
    stop();
}

std::vector<std::string> RecorderProcess::arguments() const {
    std::vector<std::string> args = {command_.string(),
                                     "--dir",
                                     bus_directory_.string(),
                                     "record",
                                     topic_,
                                     "-o",
                                     settings_.directory.string(),
                                     "--segment-size",
                                     std::to_string(settings_.segment_size),
                                     "--sync",
                                     settings_.sync_always ? "always" : "none"};
    if (settings_.retain_bytes) {
        args.insert(args.end(), {"--retain-bytes", std::to_string(*settings_.retain_bytes)});
    }
    if (settings_.retain_age) {
        args.insert(args.end(), {"--retain-age", std::to_string(settings_.retain_age->count())});
    }
    return args;
}

void RecorderProcess::start(Clock::time_point now) {
    // Only the daemon's end is non-blocking: the recorder writes its stderr as to any pipe.
    int pipe_fds[2] = {-1, -1};
    const bool piped = ::pipe2(pipe_fds, O_CLOEXEC) == 0;
    shmbus::util::UniqueFd read_end(pipe_fds[0]);
    const shmbus::util::UniqueFd write_end(pipe_fds[1]);
    if (!piped || ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) {
        spdlog::error("recorder for topic '{}': cannot create a pipe: {}", topic_,
                      std::strerror(errno));
        restart_at_ = now + backoff_;
        return;
    }

    const std::vector<std::string> args = arguments();
    std::vector<char*> argv;
    for (const std::string& arg : args)
        argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);

    // Everything the child needs is made before fork(): after it, only async-signal-safe calls.
    const shmbus::util::UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    int exec_fds[2];  // the child reports a failed exec's errno here; closes on a good one
    if (!null || ::pipe2(exec_fds, O_CLOEXEC) != 0) {
        spdlog::error("recorder for topic '{}': cannot prepare its start: {}", topic_,
                      std::strerror(errno));
        restart_at_ = now + backoff_;
        return;
    }
    const shmbus::util::UniqueFd exec_read(exec_fds[0]);
    shmbus::util::UniqueFd exec_write(exec_fds[1]);
    sigset_t empty;
    sigemptyset(&empty);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    const pid_t parent = ::getpid();
    // fork, not posix_spawn: the child asks for SIGTERM when the daemon dies (PR_SET_PDEATHSIG),
    // so a daemon killed outside systemd leaves no recorder holding the archive's lock.
    // The daemon has one thread, so fork() copies a consistent process.
    const pid_t pid = ::fork();
    if (pid == 0) {
        (void)::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);  // the daemon died before the prctl
        (void)::dup2(null.get(), STDIN_FILENO);
        (void)::dup2(null.get(), STDOUT_FILENO);
        (void)::dup2(write_end.get(), STDERR_FILENO);
        // The daemon blocks the signals its signalfd reads and ignores SIGPIPE; the recorder
        // must get the defaults (exec keeps a blocked mask and ignored signals).
        for (const int signal : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE})
            (void)::sigaction(signal, &default_action, nullptr);
        (void)::sigprocmask(SIG_SETMASK, &empty, nullptr);
        ::execve(argv[0], argv.data(), environ);
        const int error = errno;
        (void)!::write(exec_write.get(), &error, sizeof error);
        ::_exit(127);
    }
    int error = pid < 0 ? errno : 0;
    exec_write.reset();
    if (pid > 0) {
        // Until the exec happened (end of file) or failed (its errno): a moment, never longer.
        int reported = 0;
        ssize_t got = 0;
        do {
            got = ::read(exec_read.get(), &reported, sizeof reported);
        } while (got < 0 && errno == EINTR);
        if (got == static_cast<ssize_t>(sizeof reported)) {
            error = reported;
            while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
            }
        }
    }
    if (error != 0) {
        if (!start_failed_reported_) {
            start_failed_reported_ = true;
            spdlog::error(
                "cannot start the recorder for topic '{}': {}: {} (supervision.recorder_command); "
                "trying again every {}",
                topic_, command_.string(), std::strerror(error), format_duration(kMaxBackoff));
        }
        restart_at_ = now + backoff_;
        backoff_ = std::min(backoff_ * 2, kMaxBackoff);
        return;
    }
    start_failed_reported_ = false;
    pid_ = pid;
    stderr_ = std::move(read_end);
    partial_.clear();
    last_line_.clear();
    started_at_ = now;
    archived_at_start_ = archived(settings_.directory);
    ++starts_;
    spdlog::info("started the recorder for topic '{}' into {}: pid {}", topic_,
                 settings_.directory.string(), pid_);
}

void RecorderProcess::drain_stderr() noexcept {
    if (!stderr_) return;
    char buffer[1024];
    for (;;) {
        const ssize_t got = ::read(stderr_.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            if (got == 0 || errno != EAGAIN) {
                // End of file (every writer gone) or an error: whatever is left is the last line.
                if (!partial_.empty()) last_line_ = std::move(partial_);
                partial_.clear();
                stderr_.reset();
            }
            return;
        }
        try {
            partial_.append(buffer, static_cast<std::size_t>(got));
            for (std::size_t newline = partial_.find('\n'); newline != std::string::npos;
                 newline = partial_.find('\n')) {
                if (newline > 0) last_line_.assign(partial_, 0, newline);
                partial_.erase(0, newline + 1);
            }
            if (partial_.size() > kMaxLine) partial_.erase(0, partial_.size() - kMaxLine);
        } catch (...) {
            partial_.clear();  // out of memory: lose the text, never the daemon
        }
    }
}

void RecorderProcess::ended(int status, Clock::time_point now) {
    // The process is gone, so the pipe's only writer is: read to the end.
    drain_stderr();
    if (stderr_) {
        // A grandchild holding the pipe open: stop waiting for it.
        if (!partial_.empty()) last_line_ = std::move(partial_);
        stderr_.reset();
    }
    const pid_t pid = pid_;
    pid_ = -1;
    // A run that archived something, or lasted a while, was no crash loop: start again soon.
    if (now - started_at_ >= kStableRun || archived(settings_.directory) > archived_at_start_) {
        backoff_ = kFirstBackoff;
    }
    restart_at_ = now + backoff_;
    spdlog::warn("recorder for topic '{}' (pid {}) {}{}{}; starting it again in {}", topic_, pid,
                 describe_status(status), last_line_.empty() ? "" : ": ", last_line_,
                 format_duration(backoff_));
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

void RecorderProcess::tick(Clock::time_point now) {
    if (pid_ > 0) {
        drain_stderr();
        int status = 0;
        const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
        if (reaped == pid_) {
            ended(status, now);
        } else if (reaped < 0 && errno == ECHILD) {
            ended(0, now);  // reaped elsewhere: cannot say how it ended
        }
    }
    if (pid_ <= 0 && now >= restart_at_) start(now);
}

void RecorderProcess::request_stop() noexcept {
    if (pid_ > 0) (void)::kill(pid_, SIGTERM);
}

void RecorderProcess::finish_stop(Clock::time_point deadline) noexcept {
    if (pid_ <= 0) return;
    int status = 0;
    for (;;) {
        drain_stderr();
        const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
        if (reaped == pid_ || (reaped < 0 && errno == ECHILD)) break;
        if (Clock::now() >= deadline) {
            spdlog::warn("recorder for topic '{}' (pid {}) did not stop within {}; killing it",
                         topic_, pid_, format_duration(kStopGrace));
            (void)::kill(pid_, SIGKILL);
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        // Pacing the polling only; the deadline bounds it.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    spdlog::info("stopped the recorder for topic '{}' (pid {})", topic_, pid_);
    pid_ = -1;
    stderr_.reset();
}

void RecorderProcess::stop() noexcept {
    request_stop();
    finish_stop(Clock::now() + kStopGrace);
}

RecorderProcess::Clock::time_point RecorderProcess::next_deadline() const noexcept {
    return pid_ > 0 ? Clock::time_point::max() : restart_at_;
}

}  // namespace shmbusd
