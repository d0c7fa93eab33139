// A pipe, made before the fork and enlarged towards the link's capacity (up to
// /proc/sys/fs/pipe-max-size). Writers write() one whole record per call, blocking; the reader
// read()s as much as is there, up to 64 KiB, and hands out the whole records in it, keeping a
// partial one for the next call (a pipe is a byte stream). Writes of up to PIPE_BUF (4 KiB) are
// atomic, so several writers may share it (fan-in) for records that size or smaller.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

#include "peers/link_spec.hpp"

namespace shmbus::bench {

class PipePeer {
  public:
    static constexpr std::string_view kName = "pipe";
    static constexpr bool kBroadcast = false;
    static constexpr bool kMultiWriter = true;
    static constexpr bool kCanSpin = false;
    static constexpr bool kCanSleep = true;
    static constexpr bool kCanWaitFd = false;

    class Link {
      public:
        explicit Link(const LinkSpec& spec);
        ~Link();
        Link(const Link&) = delete;
        Link& operator=(const Link&) = delete;
        [[nodiscard]] int write_end() const noexcept { return fds_[1]; }
        [[nodiscard]] int read_end() const noexcept { return fds_[0]; }
        [[nodiscard]] std::size_t record_size() const noexcept { return record_size_; }

      private:
        int fds_[2] = {-1, -1};
        std::size_t record_size_;
    };

    class Writer {
      public:
        Writer(Link& link, const PeerOptions&) : fd_(link.write_end()) {}
        void send(std::span<const std::byte> record);
        void send_many(std::span<const std::span<const std::byte>> records) {
            for (const auto record : records)
                send(record);
        }

      private:
        int fd_;
    };

    class Reader {
      public:
        Reader(Link& link, const PeerOptions&);

        template <typename Handler>
        std::size_t receive(Handler&& handler) {
            std::size_t taken = 0;
            while (taken == 0) {
                fill();
                std::size_t offset = 0;
                while (filled_ - offset >= record_size_) {
                    handler(std::span<const std::byte>(buffer_.data() + offset, record_size_));
                    offset += record_size_;
                    ++taken;
                }
                if (offset > 0 && offset < filled_) {
                    std::memmove(buffer_.data(), buffer_.data() + offset, filled_ - offset);
                }
                filled_ -= offset;
            }
            return taken;
        }

      private:
        void fill();
        int fd_;
        std::size_t record_size_;
        std::vector<std::byte> buffer_;
        std::size_t filled_ = 0;
    };
};

}  // namespace shmbus::bench
