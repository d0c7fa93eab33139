#include "line_reader.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "exit_status.hpp"
#include "interrupts.hpp"
#include "shmbus/error.hpp"

namespace shmbus::cli {

LineReader::LineReader(int fd, std::size_t max_line, std::string limit_reason)
    : fd_(fd), max_line_(max_line), limit_reason_(std::move(limit_reason)), buffer_(kChunk) {}

std::optional<std::string_view> LineReader::next() {
    for (;;) {
        const char* line = buffer_.data() + begin_;
        const std::size_t pending = end_ - begin_;
        if (const void* newline = std::memchr(line + scanned_, '\n', pending - scanned_)) {
            const auto length = static_cast<std::size_t>(static_cast<const char*>(newline) - line);
            ++line_number_;
            if (length > max_line_) too_long();
            begin_ += length + 1;
            scanned_ = 0;
            return std::string_view(line, length);
        }
        scanned_ = pending;
        if (pending > max_line_) {
            ++line_number_;
            too_long();
        }
        if (!fill()) {
            if (begin_ == end_) return std::nullopt;
            ++line_number_;
            const std::string_view last(buffer_.data() + begin_, end_ - begin_);
            begin_ = end_;
            scanned_ = 0;
            return last;
        }
    }
}

bool LineReader::fill() {
    if (at_end_) return false;
    // Once a chunk, not only on EINTR: a signal that lands between reads interrupts nothing.
    throw_if_interrupted();
    // Move the partial line to the front; grow only when a single line fills the buffer, up to
    // the longest line allowed plus its '\n'.
    if (begin_ > 0) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (end_ == buffer_.size()) {
        // Full of one line no longer than max_line_ (next() checked), so this grows it.
        buffer_.resize(std::min(buffer_.size() * 2, max_line_ + 1));
    }
    for (;;) {
        const ssize_t got = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
        if (got > 0) {
            end_ += static_cast<std::size_t>(got);
            return true;
        }
        if (got == 0) {
            at_end_ = true;
            return false;
        }
        if (errno == EINTR) {
            throw_if_interrupted();
            continue;
        }
        throw system_error("reading standard input");
    }
}

void LineReader::too_long() const {
    throw Failure(ExitStatus::kUsage, fmt::format("line {} of standard input is too long: {}",
                                                  line_number_, limit_reason_));
}

}  // namespace shmbus::cli
