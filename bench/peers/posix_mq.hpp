// A POSIX message queue (mq_open): mq_send and mq_receive, one record per call, blocking. The
// queue holds capacity / record size messages where the system allows that many (root may
// pass /proc/sys/fs/mqueue/msg_max; RLIMIT_MSGQUEUE is raised first). Many writers may send to
// one queue (fan-in).
#pragma once

#include <mqueue.h>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "peers/link_spec.hpp"

namespace shmbus::bench {

class PosixMq {
  public:
    static constexpr std::string_view kName = "mq";
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
        [[nodiscard]] const std::string& name() const noexcept { return name_; }
        [[nodiscard]] std::size_t record_size() const noexcept { return record_size_; }

      private:
        std::string name_;
        std::size_t record_size_;
    };

    class Writer {
      public:
        Writer(Link& link, const PeerOptions&);
        ~Writer();
        Writer(const Writer&) = delete;
        Writer& operator=(const Writer&) = delete;
        void send(std::span<const std::byte> record);
        void send_many(std::span<const std::span<const std::byte>> records) {
            for (const auto record : records)
                send(record);
        }

      private:
        mqd_t queue_;
    };

    class Reader {
      public:
        Reader(Link& link, const PeerOptions&);
        ~Reader();
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;

        template <typename Handler>
        std::size_t receive(Handler&& handler) {
            handler(std::span<const std::byte>(buffer_.data(), receive_one()));
            return 1;
        }

      private:
        std::size_t receive_one();
        mqd_t queue_;
        std::vector<std::byte> buffer_;
    };
};

}  // namespace shmbus::bench
