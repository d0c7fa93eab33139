#include "output_buffer.hpp"

#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "interrupts.hpp"
#include "shmbus/error.hpp"

namespace shmbus::cli {

OutputBuffer::OutputBuffer(int fd, std::size_t capacity)
    : fd_(fd),
      capacity_(std::max(capacity, kMinCapacity)),
      data_(std::make_unique<char[]>(capacity_)) {}

void OutputBuffer::append(std::string_view text) {
    if (text.size() > capacity_ - used_) flush();
    if (text.size() >= capacity_) {
        write_all(text.data(), text.size());  // too big to buffer: straight through
        return;
    }
    std::memcpy(data_.get() + used_, text.data(), text.size());
    used_ += text.size();
}

void OutputBuffer::flush() {
    if (used_ == 0) return;
    const std::size_t size = used_;
    used_ = 0;  // dropped even if the write fails: a failed write ends the command
    write_all(data_.get(), size);
}

void OutputBuffer::write_all(const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t written = ::write(fd_, data, size);
        if (written < 0) {
            if (errno == EINTR) {
                throw_if_interrupted();
                continue;
            }
            if (errno == EPIPE) throw OutputClosed();
            if (errno == EAGAIN) {  // stdout was left non-blocking by someone else: wait for it
                pollfd ready{fd_, POLLOUT, 0};
                (void)::poll(&ready, 1, -1);
                continue;
            }
            throw system_error("writing to standard output");
        }
        data += written;
        size -= static_cast<std::size_t>(written);
    }
}

void OutputBuffer::flush_until(std::chrono::steady_clock::time_point deadline) noexcept {
    std::size_t done = 0;
    while (done < used_) {
        const auto left = deadline - std::chrono::steady_clock::now();
        const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count();
        if (wait_ms <= 0) break;
        pollfd ready{fd_, POLLOUT, 0};
        if (::poll(&ready, 1, static_cast<int>(wait_ms)) <= 0) break;
        if ((ready.revents & POLLOUT) == 0) break;
        // At most PIPE_BUF bytes: a pipe that polls writable takes that much without blocking.
        const std::size_t chunk = std::min<std::size_t>(used_ - done, PIPE_BUF);
        const ssize_t written = ::write(fd_, data_.get() + done, chunk);
        if (written < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            break;
        }
        done += static_cast<std::size_t>(written);
    }
    used_ = 0;
}

}  // namespace shmbus::cli
