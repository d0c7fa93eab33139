#include "cases/supervising_daemon.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace shmbus::bench {
namespace {

constexpr std::chrono::seconds kStartTimeout{10};

}  // namespace

SupervisingDaemon::SupervisingDaemon(const std::filesystem::path& binary,
                                     const std::filesystem::path& directory,
                                     std::chrono::milliseconds check_interval)
    : config_(directory.parent_path() / (directory.filename().string() + ".shmbusd.toml")) {
    {
        std::ofstream config(config_);
        config << "[bus]\nlog_level = \"warn\"\n\n[supervision]\ncheck_interval = \""
               << check_interval.count() << "ms\"\nunblock_timeout = \""
               << std::max<long long>(2000, 2 * check_interval.count()) << "ms\"\n";
        if (!config) throw std::runtime_error("cannot write " + config_.string());
    }
    // Every string before fork: the child may only make async-signal-safe calls until exec.
    const std::string program = binary.string();
    const std::string config = config_.string();
    const std::string dir = directory.string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
        ::execl(program.c_str(), program.c_str(), "--config", config.c_str(), "--dir", dir.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    const auto socket = directory / ".shmbusd.sock";
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (!std::filesystem::exists(socket)) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("shmbusd exited at start (" + binary.string() + ")");
        }
        if (std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error("shmbusd did not open its control socket in time");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(2 * check_interval + std::chrono::milliseconds(20));
}

SupervisingDaemon::~SupervisingDaemon() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    std::error_code ignored;
    std::filesystem::remove(config_, ignored);
}

std::uint64_t SupervisingDaemon::cpu_ns() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    std::uint64_t utime = 0, stime = 0;
    // After the name: state (3), ..., utime is field 14, stime 15 of the whole line.
    for (int index = 3; index <= 15 && fields >> field; ++index) {
        if (index == 14) utime = std::stoull(field);
        if (index == 15) stime = std::stoull(field);
    }
    const long hz = ::sysconf(_SC_CLK_TCK);
    return (utime + stime) * (hz > 0 ? 1'000'000'000u / static_cast<std::uint64_t>(hz) : 0);
}

}  // namespace shmbus::bench
