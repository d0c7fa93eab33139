// Reading records from a stream, one per line, in large chunks.
//
// Lines are returned in place, without their '\n', valid until the next call. A last line with
// no '\n' is still a line. A line longer than `max_line` bytes throws Failure (kUsage) naming its
// line number and the limit, without buffering the rest of it. A signal that asked the tool to
// stop (interrupts.hpp) throws Interrupted at the next read, or from a read it interrupted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus::cli {

class LineReader {
  public:
    static constexpr std::size_t kChunk = std::size_t{1} << 20;

    /// `limit_reason` ends the message for a line that is too long, e.g. "topic 'orders' takes
    /// records of at most 65536 bytes".
    LineReader(int fd, std::size_t max_line, std::string limit_reason);

    /// The next line, or nullopt at the end of the stream.
    [[nodiscard]] std::optional<std::string_view> next();

    /// The number of the line next() returned last, counting from 1.
    [[nodiscard]] std::uint64_t line_number() const noexcept { return line_number_; }

  private:
    /// Reads more after what is buffered; false at the end of the stream.
    bool fill();
    [[noreturn]] void too_long() const;

    int fd_;
    std::size_t max_line_;
    std::string limit_reason_;
    std::vector<char> buffer_;
    std::size_t begin_ = 0;    // first byte of the current line
    std::size_t scanned_ = 0;  // bytes from begin_ already searched for '\n'
    std::size_t end_ = 0;      // end of the data read
    std::uint64_t line_number_ = 0;
    bool at_end_ = false;
};

}  // namespace shmbus::cli
