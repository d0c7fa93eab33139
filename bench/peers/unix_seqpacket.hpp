// AF_UNIX SOCK_SEQPACKET: a socket pair made before the fork; writers send() one record per
// call on one end, the reader recv()s one record per call on the other, both blocking. Several
// writers may share the sending end (each send is one whole message), so fan-in works with one
// link. The sending buffer is set to the link's capacity where the kernel allows it.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "peers/link_spec.hpp"

namespace shmbus::bench {

class UnixSeqpacket {
  public:
    static constexpr std::string_view kName = "unix";
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
        [[nodiscard]] int sending_end() const noexcept { return fds_[0]; }
        [[nodiscard]] int receiving_end() const noexcept { return fds_[1]; }
        [[nodiscard]] std::size_t record_size() const noexcept { return record_size_; }

      private:
        int fds_[2] = {-1, -1};
        std::size_t record_size_;
    };

    class Writer {
      public:
        Writer(Link& link, const PeerOptions&) : fd_(link.sending_end()) {}
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
        Reader(Link& link, const PeerOptions&)
            : fd_(link.receiving_end()), buffer_(link.record_size() + 1) {}

        template <typename Handler>
        std::size_t receive(Handler&& handler) {
            handler(std::span<const std::byte>(buffer_.data(), receive_one()));
            return 1;
        }

      private:
        std::size_t receive_one();
        int fd_;
        std::vector<std::byte> buffer_;
    };
};

}  // namespace shmbus::bench
