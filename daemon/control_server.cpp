#include "control_server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <shmbus/detail/util/unique_fd.hpp>
#include <shmbus/error.hpp>
#include <string>

namespace shmbusd {
namespace control = shmbus::control;

namespace {

// A client gets this long to send its request once connected.
constexpr std::chrono::seconds kRequestDeadline{5};
// Connections open at once; more are refused with a reply saying so.
constexpr std::size_t kMaxConnections = 32;
constexpr int kBacklog = 64;

/// The address for `path`, reached through `dir_fd` (/proc/self/fd/N/NAME) when the path is
/// too long for sockaddr_un.
sockaddr_un address_for(const std::filesystem::path& path, int dir_fd) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::string target = path.string();
    if (target.size() >= sizeof address.sun_path) {
        target = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + path.filename().string();
    }
    std::memcpy(address.sun_path, target.c_str(), target.size() + 1);
    return address;
}

/// The peer's supplementary groups as the kernel recorded them at connect time, or nullopt where
/// the kernel cannot say (SO_PEERGROUPS is Linux 4.13 and later).
std::optional<std::vector<gid_t>> peer_groups(int fd) {
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 2; ++attempt) {
        socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
            groups.resize(length / sizeof(gid_t));
            return groups;
        }
        if (errno != ERANGE) return std::nullopt;
        groups.resize(length / sizeof(gid_t) + 1);  // the kernel said how much it needs
    }
    return std::nullopt;
}

}  // namespace

ControlServer::ControlServer(const std::filesystem::path& dir, Handler handler)
    : path_(dir / std::string(control::kSocketName)), handler_(std::move(handler)) {
    {
        const shmbus::util::UniqueFd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!dir_fd) throw shmbus::system_error("opening bus directory " + dir.string());
        const sockaddr_un address = address_for(path_, dir_fd.get());
        listen_fd_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!listen_fd_) throw shmbus::system_error("creating the control socket");
        // A socket left by a daemon that died: we hold the daemon lock, so nobody listens on it.
        if (::unlinkat(dir_fd.get(), path_.filename().c_str(), 0) != 0 && errno != ENOENT) {
            throw shmbus::system_error("removing the stale control socket " + path_.string());
        }
        if (::bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) !=
            0) {
            throw shmbus::system_error("binding the control socket " + path_.string());
        }
        // Anyone may connect; the configuration's rules decide, per request, who is answered yes.
        if (::fchmodat(dir_fd.get(), path_.filename().c_str(), 0666, 0) != 0) {
            throw shmbus::system_error("setting the mode of " + path_.string());
        }
    }
    if (::listen(listen_fd_.get(), kBacklog) != 0) {
        throw shmbus::system_error("listening on " + path_.string());
    }
}

ControlServer::~ControlServer() {
    for (const Connection& connection : connections_)
        ::close(connection.fd);
    if (listen_fd_) {
        listen_fd_.reset();
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
}

void ControlServer::add_poll_fds(std::vector<pollfd>& fds) const {
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    for (const Connection& connection : connections_)
        fds.push_back({connection.fd, POLLIN, 0});
}

void ControlServer::dispatch(std::span<const pollfd> fds, Clock::time_point now) {
    if (fds.empty()) return;
    // Connections first, by their position at add_poll_fds time; accepting changes the list.
    std::vector<int> finished;
    for (std::size_t i = 1; i < fds.size() && i - 1 < connections_.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Connection& connection = connections_[i - 1];
        if (connection.fd != fds[i].fd) continue;
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && serve(connection)) {
            finished.push_back(connection.fd);
        }
    }
    std::erase_if(connections_, [&](const Connection& connection) {
        if (std::find(finished.begin(), finished.end(), connection.fd) == finished.end())
            return false;
        ::close(connection.fd);
        return true;
    });
    if ((fds[0].revents & POLLIN) != 0) accept_all(now);
}

void ControlServer::accept_all(Clock::time_point now) {
    for (;;) {
        const int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                spdlog::warn("control socket: accept failed: {}", std::strerror(errno));
            }
            return;
        }
        ucred credentials{};
        socklen_t length = sizeof credentials;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
            spdlog::warn("control socket: cannot read a peer's credentials: {}",
                         std::strerror(errno));
            ::close(fd);
            continue;
        }
        Peer peer{credentials.pid, credentials.uid, credentials.gid};
        peer.groups = peer_groups(fd);
        if (connections_.size() >= kMaxConnections) {
            control::Reply busy;
            busy.code = shmbus::ErrorCode::kBusy;
            busy.message = "shmbusd is serving " + std::to_string(kMaxConnections) +
                           " control requests already; try again";
            reply(fd, busy);
            ::close(fd);
            continue;
        }
        connections_.push_back({fd, std::move(peer), now + kRequestDeadline});
    }
}

bool ControlServer::serve(Connection& connection) {
    std::string message(control::kMaxMessageBytes + 1, '\0');
    const ssize_t got = ::recv(connection.fd, message.data(), message.size(), MSG_DONTWAIT);
    if (got < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    if (got == 0) return true;  // the client hung up without asking
    message.resize(static_cast<std::size_t>(got));
    control::Reply answer;
    try {
        const control::CreateRequest request = control::decode_request(message);
        answer = handler_(request, connection.peer);
    } catch (const shmbus::Error& error) {
        answer.ok = false;
        answer.code = error.code();
        answer.message = error.what();
        spdlog::info("control request from pid {} (uid {}) refused: {}", connection.peer.pid,
                     connection.peer.uid, error.what());
    } catch (const std::exception& error) {
        answer.ok = false;
        answer.code = shmbus::ErrorCode::kSystem;
        answer.message = error.what();
        spdlog::error("control request from pid {} failed: {}", connection.peer.pid, error.what());
    }
    reply(connection.fd, answer);
    return true;
}

void ControlServer::reply(int fd, const control::Reply& reply) {
    const std::string text = control::encode_reply(reply);
    if (::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EPIPE &&
        errno != ECONNRESET) {
        spdlog::debug("control socket: cannot send a reply: {}", std::strerror(errno));
    }
}

ControlServer::Clock::time_point ControlServer::next_deadline() const {
    Clock::time_point earliest = Clock::time_point::max();
    for (const Connection& connection : connections_)
        earliest = std::min(earliest, connection.deadline);
    return earliest;
}

void ControlServer::expire(Clock::time_point now) {
    std::erase_if(connections_, [now](const Connection& connection) {
        if (connection.deadline > now) return false;
        ::close(connection.fd);
        return true;
    });
}

}  // namespace shmbusd
