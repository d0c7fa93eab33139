// Buffered output straight to a file descriptor: one write(2) per buffer-full, not per record.
//
// write() failures: EPIPE throws OutputClosed; EINTR retries unless a signal asked the tool to
// stop (then Interrupted); anything else throws shmbus::Error.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

namespace shmbus::cli {

class OutputBuffer {
  public:
    static constexpr std::size_t kDefaultCapacity = std::size_t{1} << 20;

    static constexpr std::size_t kMinCapacity = 4096;

    /// `capacity` is raised to kMinCapacity if smaller.
    explicit OutputBuffer(int fd, std::size_t capacity = kDefaultCapacity);
    OutputBuffer(const OutputBuffer&) = delete;
    OutputBuffer& operator=(const OutputBuffer&) = delete;

    /// Room for at least `size` bytes at the end of the buffer: write into it, then commit() how
    /// many were used. Flushes first if needed; `size` must not exceed capacity().
    [[nodiscard]] char* reserve(std::size_t size) {
        if (capacity_ - used_ < size) flush();
        return data_.get() + used_;
    }
    void commit(std::size_t size) noexcept { used_ += size; }

    void append(std::string_view text);
    void append(char c) {
        *reserve(1) = c;
        commit(1);
    }

    /// Writes out everything buffered.
    void flush();

    /// Writes out what it can before `deadline`, then drops the rest: for leaving after a signal
    /// when the reader may never read again. Never throws.
    void flush_until(std::chrono::steady_clock::time_point deadline) noexcept;

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] bool empty() const noexcept { return used_ == 0; }

  private:
    void write_all(const char* data, std::size_t size);

    int fd_;
    std::size_t capacity_;
    std::size_t used_ = 0;
    std::unique_ptr<char[]> data_;
};

}  // namespace shmbus::cli
