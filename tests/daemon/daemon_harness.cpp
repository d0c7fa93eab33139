#include "daemon_harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/program_launch.hpp"

namespace shmbus::test {
namespace {

Ended ended_from(int raw) {
    if (WIFEXITED(raw)) return Ended{WEXITSTATUS(raw)};
    if (WIFSIGNALED(raw)) return Ended{-WTERMSIG(raw)};
    return Ended{-1000};
}

}  // namespace

Program::Program(const std::filesystem::path& path, Options options) : log_(options.log) {
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
        throw std::runtime_error("opening " + log_.string() + ": " + std::strerror(errno));
    ProgramLaunch launch;
    launch.argv = {path.string()};
    launch.argv.insert(launch.argv.end(), options.arguments.begin(), options.arguments.end());
    launch.environment = std::move(options.environment);
    launch.stdout_fd = log_fd;
    launch.stderr_fd = log_fd;
    sigset_t none;
    sigemptyset(&none);
    launch.signal_mask = none;  // whatever the test's thread blocks, the program gets every signal
    pid_ = start_program(launch);
    const int error = errno;
    ::close(log_fd);
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(error));
}

Program::~Program() {
    if (ended_ || pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int raw = 0;
    ::waitpid(pid_, &raw, 0);
}

void Program::signal(int signal) const {
    if (!ended_) ::kill(pid_, signal);
}

std::optional<Ended> Program::wait_for_exit(SteadyClock::duration timeout) {
    if (ended_) return ended_;
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        int raw = 0;
        const pid_t got = ::waitpid(pid_, &raw, WNOHANG);
        if (got == pid_) {
            ended_ = ended_from(raw);
            return ended_;
        }
        if (SteadyClock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(5ms);
    }
}

bool Program::wait_for_stop(SteadyClock::duration timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        int raw = 0;
        const pid_t got = ::waitpid(pid_, &raw, WNOHANG | WUNTRACED);
        if (got == pid_) {
            if (WIFSTOPPED(raw)) return true;
            ended_ = ended_from(raw);
            return false;
        }
        if (SteadyClock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
}

std::string Program::output() const {
    return read_file(log_);
}

bool Program::wait_for_output(std::string_view text, SteadyClock::duration timeout) const {
    return eventually([&] { return output().find(text) != std::string::npos; }, timeout);
}

std::filesystem::path Daemon::log_path(const std::filesystem::path& dir) {
    // Inside the bus directory, where the daemon ignores it (a dot file) and the test's
    // BusDirectory removes it; one per daemon started, so a restarted daemon's log is its own.
    static int started = 0;
    return dir / (".test-shmbusd." + std::to_string(++started) + ".log");
}

Daemon::Daemon(const Options& options)
    : program_(shmbusd_path(), [&] {
          Program::Options program;
          program.arguments = {"--dir", options.dir.string()};
          if (options.config) {
              program.arguments.push_back("--config");
              program.arguments.push_back(options.config->string());
          }
          program.arguments.insert(program.arguments.end(), options.extra_arguments.begin(),
                                   options.extra_arguments.end());
          program.environment = options.environment;
          program.log = log_path(options.dir);
          return program;
      }()) {
    if (options.wait_until_ready && !program_.wait_for_output("ready:", 20s)) {
        throw std::runtime_error("shmbusd did not become ready; its log:\n" + log());
    }
}

std::optional<Ended> Daemon::stop(SteadyClock::duration timeout) {
    program_.signal(SIGTERM);
    return program_.wait_for_exit(timeout);
}

std::filesystem::path shmbusd_path() {
    return SHMBUSD_PATH;
}
std::filesystem::path fault_publisher_path() {
    return FAULT_PUBLISHER_PATH;
}
std::filesystem::path source_dir() {
    return SHMBUS_SOURCE_DIR;
}

std::optional<std::filesystem::path> cli_path() {
    const char* build = std::getenv("SHMBUS_BUILD_DIR");
    if (build == nullptr) return std::nullopt;
    const std::filesystem::path path = std::filesystem::path(build) / "client" / "cli" / "shmbus";
    if (::access(path.c_str(), X_OK) != 0) return std::nullopt;
    return path;
}

void write_file(const std::filesystem::path& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("writing " + path.string());
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

Run run_program(const std::filesystem::path& path, const std::vector<std::string>& arguments,
                SteadyClock::duration timeout, const std::vector<std::string>& environment) {
    char pattern[] = "/tmp/shmbus-run-XXXXXX";
    const int fd = ::mkstemp(pattern);
    if (fd < 0) throw std::runtime_error("mkstemp");
    ::close(fd);
    Run run;
    {
        Program program(path, {arguments, environment, pattern});
        const auto ended = program.wait_for_exit(timeout);
        run.status = ended ? ended->status : -9999;
        run.output = program.output();
    }
    ::unlink(pattern);
    return run;
}

}  // namespace shmbus::test
