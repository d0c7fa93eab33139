#include "peers/unix_seqpacket.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace shmbus::bench {
namespace {

[[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("unix socket: ") + what + ": " + std::strerror(errno));
}

void set_buffer(int fd, int force_option, int option, std::uint64_t bytes) {
    const int size = bytes > (1u << 30) ? (1 << 30) : static_cast<int>(bytes);
    // FORCE passes the system limit (root only); otherwise the kernel caps the size.
    if (::setsockopt(fd, SOL_SOCKET, force_option, &size, sizeof(size)) != 0) {
        (void)::setsockopt(fd, SOL_SOCKET, option, &size, sizeof(size));
    }
}

}  // namespace

UnixSeqpacket::Link::Link(const LinkSpec& spec) : record_size_(spec.record_size) {
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds_) != 0) fail("socketpair");
    set_buffer(fds_[0], SO_SNDBUFFORCE, SO_SNDBUF, spec.options.capacity);
    set_buffer(fds_[1], SO_RCVBUFFORCE, SO_RCVBUF, spec.options.capacity);
}

UnixSeqpacket::Link::~Link() {
    ::close(fds_[0]);
    ::close(fds_[1]);
}

void UnixSeqpacket::Writer::send(std::span<const std::byte> record) {
    for (;;) {
        const ssize_t sent = ::send(fd_, record.data(), record.size(), 0);
        if (sent == static_cast<ssize_t>(record.size())) return;
        if (sent < 0 && errno == EINTR) continue;
        fail("send");
    }
}

std::size_t UnixSeqpacket::Reader::receive_one() {
    for (;;) {
        const ssize_t got = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
        if (got > 0) return static_cast<std::size_t>(got);
        if (got < 0 && errno == EINTR) continue;
        if (got == 0) throw std::runtime_error("unix socket: the writers hung up");
        fail("recv");
    }
}

}  // namespace shmbus::bench
