// The daemon's end of the control plane: a SOCK_SEQPACKET listener on <bus dir>/.shmbusd.sock.
// Each connection carries one request and one reply (shmbus/detail/control/message.hpp). Records
// never pass through here.
//
// Everything is non-blocking and driven by the daemon's poll loop, so a client that connects
// and sends nothing costs a descriptor until its deadline, never the supervision of the bus.
// The peer's credentials are taken from the kernel (SO_PEERCRED) when the connection is
// accepted; what the client says about itself is never trusted.
#pragma once

#include <poll.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <shmbus/detail/control/message.hpp>
#include <span>
#include <vector>

#include "creation_rules.hpp"
#include "shmbus/detail/util/unique_fd.hpp"

namespace shmbusd {

class ControlServer {
  public:
    using Clock = std::chrono::steady_clock;
    using Handler =
        std::function<shmbus::control::Reply(const shmbus::control::CreateRequest&, const Peer&)>;

    /// Listens on `dir`'s control socket, replacing a stale one (the caller holds the daemon
    /// lock, so no live daemon owns it). Throws shmbus::Error.
    ControlServer(const std::filesystem::path& dir, Handler handler);
    /// Stops listening and removes the socket.
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    /// Appends the descriptors to poll: the listener, then each open connection.
    void add_poll_fds(std::vector<pollfd>& fds) const;
    /// Handles what poll reported for the descriptors add_poll_fds appended (same order).
    void dispatch(std::span<const pollfd> fds, Clock::time_point now);
    /// The earliest connection deadline, or time_point::max().
    [[nodiscard]] Clock::time_point next_deadline() const;
    /// Closes connections whose deadline has passed.
    void expire(Clock::time_point now);

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    struct Connection {
        int fd = -1;
        Peer peer;
        Clock::time_point deadline;
    };

    void accept_all(Clock::time_point now);
    /// Reads, answers and closes; false if the connection should stay (nothing to read yet).
    bool serve(Connection& connection);
    void reply(int fd, const shmbus::control::Reply& reply);

    std::filesystem::path path_;
    Handler handler_;
    shmbus::util::UniqueFd listen_fd_;  // closed however the constructor ends
    std::vector<Connection> connections_;
};

}  // namespace shmbusd
