#include "bridge_harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/program_launch.hpp"

namespace shmbus::test::bridge {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(10);

/// A port the kernel had free a moment ago. Another process could take it before nats-server
/// binds; NatsServer then tries again with another.
int free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot bind a loopback port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

bool accepts_connections(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

ChildExit exit_of(int status) {
    ChildExit exit;
    exit.exited = WIFEXITED(status);
    exit.code = exit.exited ? WEXITSTATUS(status) : 0;
    exit.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return exit;
}

/// Waits for `pid` until the deadline; nullopt if it still runs.
std::optional<ChildExit> reap(pid_t pid, Clock::time_point deadline) {
    while (true) {
        int status = 0;
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) return exit_of(status);
        if (done < 0) return ChildExit{};
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollInterval);
    }
}

void kill_and_reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status = 0;
    (void)::waitpid(pid, &status, 0);
}

}  // namespace

std::optional<std::string> nats_server_program() {
    // Debian installs it in /usr/sbin, which a user's PATH may not hold.
    for (const char* candidate : {"/usr/sbin/nats-server", "/usr/bin/nats-server",
                                  "/usr/local/bin/nats-server", "/usr/local/sbin/nats-server"}) {
        if (::access(candidate, X_OK) == 0) return std::string(candidate);
    }
    return std::nullopt;
}

NatsServer::NatsServer(const std::string& program) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = free_loopback_port();
        ProgramLaunch launch;
        launch.argv = {program, "-p", std::to_string(port_), "-a", "127.0.0.1"};
        const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        launch.stdout_fd = launch.stderr_fd = null_fd;
        pid_ = start_program(launch);
        ::close(null_fd);
        if (pid_ < 0) throw std::runtime_error("cannot start nats-server");
        const auto deadline = deadline_in(std::chrono::seconds(10));
        while (Clock::now() < deadline) {
            if (accepts_connections(port_)) return;
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) break;  // lost the port: try another
            std::this_thread::sleep_for(kPollInterval);
        }
        if (::kill(pid_, 0) == 0) kill_and_reap(pid_);
        pid_ = -1;
    }
    throw std::runtime_error("nats-server did not start on a loopback port");
}

NatsServer::~NatsServer() {
    if (pid_ > 0) kill_and_reap(pid_);
}

BridgeProcess::BridgeProcess(const std::filesystem::path& work, const std::string& config) {
    const std::filesystem::path config_path = work / "bridge.toml";
    std::ofstream(config_path) << config;
    log_path_ = work / "bridge.log";
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) throw std::runtime_error("cannot create the bridge's log");
    ProgramLaunch launch;
    launch.argv = {SHMBUS_BRIDGE_PATH, "--config", config_path.string()};
    launch.stdout_fd = launch.stderr_fd = log_fd;
    pid_ = start_program(launch);
    ::close(log_fd);
    if (pid_ < 0) throw std::runtime_error("cannot start shmbus-bridge");
}

BridgeProcess::~BridgeProcess() {
    if (pid_ > 0 && !exit_) kill_and_reap(pid_);
}

std::string BridgeProcess::log() const {
    std::ifstream file(log_path_);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

bool BridgeProcess::wait_for_log(const std::string& text, Clock::time_point deadline) {
    while (true) {
        if (log().find(text) != std::string::npos) return true;
        if (exit_ || Clock::now() >= deadline) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_ = exit_of(status);
            continue;  // one more look at what it wrote before it ended
        }
        std::this_thread::sleep_for(kPollInterval);
    }
}

std::optional<ChildExit> BridgeProcess::stop(Clock::time_point deadline) {
    if (!exit_) ::kill(pid_, SIGTERM);
    return wait(deadline);
}

std::optional<ChildExit> BridgeProcess::wait(Clock::time_point deadline) {
    if (!exit_) {
        exit_ = reap(pid_, deadline);
        if (!exit_) {
            kill_and_reap(pid_);
            exit_ = ChildExit{false, 0, SIGKILL};
            return std::nullopt;
        }
    }
    return exit_;
}

NatsClient::NatsClient(const std::string& url) {
    const natsStatus status = natsConnection_ConnectTo(&connection_, url.c_str());
    if (status != NATS_OK)
        throw std::runtime_error(std::string("test client: ") + natsStatus_GetText(status));
}

NatsClient::~NatsClient() {
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
}

SyncSubscription::SyncSubscription(NatsClient& client, const std::string& subject) {
    natsStatus status = natsConnection_SubscribeSync(&subscription_, client.get(), subject.c_str());
    if (status == NATS_OK) status = natsConnection_FlushTimeout(client.get(), 5000);
    if (status != NATS_OK)
        throw std::runtime_error(std::string("test subscription: ") + natsStatus_GetText(status));
}

SyncSubscription::~SyncSubscription() {
    natsSubscription_Destroy(subscription_);
}

natsMsg* SyncSubscription::next(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    natsMsg* message = nullptr;
    if (natsSubscription_NextMsg(&message, subscription_, std::max<std::int64_t>(left, 1)) !=
        NATS_OK)
        return nullptr;
    return message;
}

std::string header(natsMsg* message, const char* key) {
    const char* value = nullptr;
    if (natsMsgHeader_Get(message, key, &value) != NATS_OK || value == nullptr) return "";
    return value;
}

std::string data(natsMsg* message) {
    return std::string(natsMsg_GetData(message),
                       static_cast<std::size_t>(natsMsg_GetDataLength(message)));
}

}  // namespace shmbus::test::bridge
