// The client side of the control plane (shmbus/detail/control/message.hpp): one SOCK_SEQPACKET
// connection per request, one packet each way, every wait bounded.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "shmbus/control.hpp"
#include "shmbus/detail/util/topic_name.hpp"
#include "shmbus/detail/util/unique_fd.hpp"

namespace shmbus {
namespace {

// Creating a large topic means allocating its whole file; on a slow disk that takes a while.
constexpr int kReplyTimeoutSeconds = 60;

/// Connects to the socket at `path`. A path too long for sockaddr_un is reached through the
/// directory's descriptor (/proc/self/fd/N/.shmbusd.sock), which is short whatever `dir` is.
void connect_to(int fd, const std::filesystem::path& dir, const std::filesystem::path& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::string target = path.string();
    util::UniqueFd dir_fd;
    if (target.size() >= sizeof address.sun_path) {
        dir_fd.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!dir_fd) throw system_error("bus directory " + dir.string());
        target = "/proc/self/fd/" + std::to_string(dir_fd.get()) + "/" +
                 std::string(control::kSocketName);
    }
    std::memcpy(address.sun_path, target.c_str(), target.size() + 1);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return;
    const int error = errno;
    if (error == ENOENT || error == ECONNREFUSED || error == ENOTDIR) {
        throw Error(ErrorCode::kNotFound,
                    "no shmbusd listens on " + path.string() + " (is shmbusd running for " +
                        dir.string() + "?)",
                    error);
    }
    if (error == EACCES || error == EPERM) {
        throw Error(ErrorCode::kPermission,
                    "permission denied connecting to shmbusd's control socket " + path.string(),
                    error);
    }
    throw system_error("connecting to shmbusd's control socket " + path.string(), error);
}

control::Reply exchange_with_daemon(const std::filesystem::path& dir, const std::string& request) {
    const std::filesystem::path path = control_socket_path(dir);
    const util::UniqueFd socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!socket) throw system_error("creating a socket to reach shmbusd");
    const timeval timeout{kReplyTimeoutSeconds, 0};
    if (::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
        ::setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0) {
        throw system_error("setting a timeout on the socket to shmbusd");
    }
    connect_to(socket.get(), dir, path);
    const ssize_t sent = ::send(socket.get(), request.data(), request.size(), MSG_NOSIGNAL);
    if (sent < 0) throw system_error("sending a request to shmbusd at " + path.string());
    if (static_cast<std::size_t>(sent) != request.size()) {
        throw Error(ErrorCode::kSystem, "shmbusd at " + path.string() + " took part of a request");
    }
    std::string reply(control::kMaxMessageBytes + 1, '\0');
    ssize_t got = -1;
    do {
        got = ::recv(socket.get(), reply.data(), reply.size(), 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            throw Error(ErrorCode::kSystem,
                        "shmbusd at " + path.string() + " did not answer within " +
                            std::to_string(kReplyTimeoutSeconds) + " s",
                        errno);
        }
        throw system_error("reading shmbusd's reply from " + path.string());
    }
    if (got == 0) {
        throw Error(ErrorCode::kSystem,
                    "shmbusd at " + path.string() + " closed the connection without answering");
    }
    reply.resize(static_cast<std::size_t>(got));
    return control::decode_reply(reply);
}

bool send_create(const std::filesystem::path& dir, std::string_view name,
                 const TopicRequest& request) {
    if (auto problem = topic_name_problem(name)) {
        throw Error(ErrorCode::kInvalidArgument, *problem);
    }
    const control::Reply reply =
        exchange_with_daemon(dir, control::encode_request({std::string(name), request}));
    if (!reply.ok) throw Error(reply.code, reply.message);
    return reply.created;
}

}  // namespace

std::filesystem::path control_socket_path(const std::filesystem::path& dir) {
    return dir / std::string(control::kSocketName);
}

void request_topic(const std::filesystem::path& dir, std::string_view name,
                   const TopicOptions& options) {
    // Every layout parameter is named; owner, group and modes are the daemon's to choose.
    TopicRequest request;
    request.capacity = options.capacity;
    request.max_record_size = options.max_record_size;
    request.max_publishers = options.max_publishers;
    request.max_subscribers = options.max_subscribers;
    request.policy = options.policy;
    request.timestamps = options.timestamps;
    request.fenced_commits = options.fenced_commits;
    (void)send_create(dir, name, request);
}

bool ensure_topic(const std::filesystem::path& dir, std::string_view name,
                  const TopicRequest& request) {
    return send_create(dir, name, request);
}

}  // namespace shmbus
