#include "tool.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>
#include <stdexcept>
#include <thread>
#include <utility>

#include "shmbus/detail/ring/slots.hpp"
#include "shmbus/publisher.hpp"
#include "shmbus/topic_stats.hpp"
#include "support/program_launch.hpp"

namespace shmbus::test::cli {
namespace {

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

ProcessExit decode(int status) {
    ProcessExit exit;
    if (WIFEXITED(status)) {
        exit.exited = true;
        exit.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        exit.signal = WTERMSIG(status);
    }
    return exit;
}

int milliseconds_until(Clock::time_point deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1000));
}

}  // namespace

std::string tool_path() {
    const char* build = std::getenv("SHMBUS_BUILD_DIR");
    REQUIRE_MESSAGE(build != nullptr, "SHMBUS_BUILD_DIR is not set (run the tests with ctest)");
    const std::string path = std::string(build) + "/client/cli/shmbus";
    REQUIRE_MESSAGE(::access(path.c_str(), X_OK) == 0, "the shmbus tool is not built: " << path);
    return path;
}

std::string ProcessExit::describe() const {
    return exited ? "exit status " + std::to_string(code) : "signal " + std::to_string(signal);
}

Process Process::start(const std::vector<std::string>& argv,
                       const std::vector<std::string>& environment, int stdin_fd) {
    int out[2];
    int err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(null_fd >= 0);
    ProgramLaunch launch;
    launch.argv = argv;
    launch.environment = environment;
    launch.stdin_fd = stdin_fd >= 0 ? stdin_fd : null_fd;
    launch.stdout_fd = out[1];
    launch.stderr_fd = err[1];
    launch.own_process_group = true;
    const pid_t pid = start_program(launch);
    REQUIRE(pid >= 0);
    ::close(null_fd);
    ::close(out[1]);
    ::close(err[1]);
    Process process;
    process.pid_ = pid;
    process.out_fd_ = out[0];
    process.err_fd_ = err[0];
    return process;
}

Process Process::start_tool(const std::vector<std::string>& args) {
    std::vector<std::string> argv{tool_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return start(argv);
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_fd_(std::exchange(other.out_fd_, -1)),
      err_fd_(std::exchange(other.err_fd_, -1)),
      err_(std::move(other.err_)),
      reaped_(other.reaped_),
      exit_(other.exit_) {}

Process::~Process() {
    if (pid_ > 0 && !reaped_) {
        ::kill(-pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    } else if (pid_ > 0) {
        ::kill(-pid_, SIGKILL);  // anything the program left behind in its group
    }
    close_fd(out_fd_);
    close_fd(err_fd_);
}

bool Process::pump(Clock::time_point deadline, std::string* out) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    for (;;) {
        const int ready = ::poll(fds, 2, milliseconds_until(deadline));
        if (ready < 0 && errno == EINTR) continue;
        REQUIRE(ready >= 0);
        if (ready == 0) {
            if (Clock::now() >= deadline) return false;
            continue;
        }
        break;
    }
    char buffer[64 * 1024];
    if (fds[1].revents != 0) {
        const ssize_t got = ::read(err_fd_, buffer, sizeof buffer);
        if (got > 0) {
            err_.append(buffer, static_cast<std::size_t>(got));
        } else {
            close_fd(err_fd_);
        }
    }
    if (fds[0].revents != 0) {
        const ssize_t got = ::read(out_fd_, buffer, sizeof buffer);
        if (got > 0) {
            if (out != nullptr) out->append(buffer, static_cast<std::size_t>(got));
        } else {
            close_fd(out_fd_);
        }
    }
    return true;
}

std::optional<std::string> Process::read_output(Clock::time_point deadline) {
    std::string out;
    while (out.empty() && out_fd_ >= 0) {
        if (!pump(deadline, &out)) return std::nullopt;
    }
    return out;
}

void Process::close_output() {
    close_fd(out_fd_);
}

std::optional<ProcessExit> Process::wait_until(Clock::time_point deadline) {
    std::string discarded;
    while (!reaped_) {
        int status = 0;
        const pid_t done = ::waitpid(pid_, &status, WNOHANG);
        REQUIRE(done >= 0);
        if (done == pid_) {
            reaped_ = true;
            exit_ = decode(status);
            break;
        }
        if (Clock::now() >= deadline) return std::nullopt;
        // Keeps the pipes flowing, so the program never blocks on a full one, and paces the
        // loop: poll returns after 20 ms even with both pipes closed.
        (void)pump(std::min(deadline, Clock::now() + 20ms), &discarded);
        discarded.clear();
    }
    // Whatever the program wrote on stderr before it ended.
    while (err_fd_ >= 0 && pump(Clock::now() + 1s, &discarded)) {
    }
    return exit_;
}

std::optional<ProcessExit> Process::finish(Clock::time_point deadline,
                                           std::string& rest_of_output) {
    while (out_fd_ >= 0 || err_fd_ >= 0) {
        if (!pump(deadline, &rest_of_output)) return std::nullopt;
    }
    return wait_until(deadline);
}

void Process::signal(int signal) const {
    ::kill(pid_, signal);
}

ToolResult run_tool(const std::vector<std::string>& args, const RunOptions& options) {
    // The input sits in a memory file, so feeding it can never deadlock against the output.
    const int input = ::memfd_create("shmbus-test-input", MFD_CLOEXEC);
    REQUIRE(input >= 0);
    std::size_t written = 0;
    while (written < options.input.size()) {
        const ssize_t n =
            ::write(input, options.input.data() + written, options.input.size() - written);
        REQUIRE(n > 0);
        written += static_cast<std::size_t>(n);
    }
    REQUIRE(::lseek(input, 0, SEEK_SET) == 0);

    std::vector<std::string> argv{tool_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    Process process = Process::start(argv, options.environment, input);
    ::close(input);
    ToolResult result;
    const auto exit = process.finish(Clock::now() + options.limit, result.out);
    std::string command = "shmbus";
    for (const std::string& arg : args)
        command += " '" + arg + "'";
    REQUIRE_MESSAGE(exit.has_value(),
                    command << " did not finish in time; stderr: " << process.error_output());
    result.exit = *exit;
    result.err = process.error_output();
    return result;
}

void publish(const std::filesystem::path& dir, const std::string& name,
             const std::vector<std::string>& records) {
    const Topic topic = Topic::open(dir, name);
    Publisher publisher(topic);
    for (const std::string& record : records) {
        REQUIRE(publisher.try_offer(std::as_bytes(std::span(record))) == Status::kOk);
    }
}

void evict_the_subscriber(const std::filesystem::path& dir, const std::string& name) {
    {
        const Topic topic = Topic::open(dir, name, {.access = Access::kAdmin});
        const TopicStats stats = collect_stats(topic);
        REQUIRE(stats.subscribers.size() == 1);
        REQUIRE(ring::evict_subscriber(topic.view(), stats.subscribers[0].slot));
    }
    publish(dir, name, {"wake up"});  // in case it sleeps past the eviction
}

void wait_for_live_subscribers(const std::filesystem::path& dir, const std::string& name,
                               std::size_t count, Clock::time_point deadline) {
    const Topic topic = Topic::open(dir, name, {.access = Access::kSubscribe, .prefault = false});
    std::size_t live = 0;
    for (;;) {
        live = 0;
        for (const SubscriberInfo& subscriber : collect_stats(topic).subscribers) {
            if (subscriber.alive) ++live;
        }
        if (live == count) return;
        REQUIRE_MESSAGE(Clock::now() < deadline, "topic '" << name << "' has " << live
                                                           << " live subscribers, not " << count);
        std::this_thread::sleep_for(2ms);  // polling pace only
    }
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string lines(int from, int to) {
    std::string out;
    for (int i = from; i <= to; ++i)
        out += std::to_string(i) + "\n";
    return out;
}

}  // namespace shmbus::test::cli
