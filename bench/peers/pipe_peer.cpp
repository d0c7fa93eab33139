#include "peers/pipe_peer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <string>

namespace shmbus::bench {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

[[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("pipe: ") + what + ": " + std::strerror(errno));
}

std::uint64_t largest_pipe() {
    std::ifstream file("/proc/sys/fs/pipe-max-size");
    std::uint64_t size = 0;
    file >> size;
    return size;
}

}  // namespace

PipePeer::Link::Link(const LinkSpec& spec) : record_size_(spec.record_size) {
    if (::pipe2(fds_, O_CLOEXEC) != 0) fail("pipe2");
    std::uint64_t wanted = std::min(spec.options.capacity, largest_pipe());
    if (wanted > 0) (void)::fcntl(fds_[1], F_SETPIPE_SZ, static_cast<int>(wanted));
}

PipePeer::Link::~Link() {
    ::close(fds_[0]);
    ::close(fds_[1]);
}

void PipePeer::Writer::send(std::span<const std::byte> record) {
    std::size_t done = 0;
    while (done < record.size()) {
        const ssize_t wrote = ::write(fd_, record.data() + done, record.size() - done);
        if (wrote > 0) {
            done += static_cast<std::size_t>(wrote);
            continue;
        }
        if (wrote < 0 && errno == EINTR) continue;
        fail("write");
    }
}

PipePeer::Reader::Reader(Link& link, const PeerOptions&)
    : fd_(link.read_end()),
      record_size_(link.record_size()),
      buffer_(std::max(kReadChunk, 2 * link.record_size())) {}

void PipePeer::Reader::fill() {
    for (;;) {
        const ssize_t got = ::read(fd_, buffer_.data() + filled_, buffer_.size() - filled_);
        if (got > 0) {
            filled_ += static_cast<std::size_t>(got);
            return;
        }
        if (got < 0 && errno == EINTR) continue;
        if (got == 0) throw std::runtime_error("pipe: the writers hung up");
        fail("read");
    }
}

}  // namespace shmbus::bench
