// boost::interprocess::message_queue: a queue of fixed-size message slots in a named shared
// memory object, guarded by a process-shared mutex and condition variables. send() and
// receive() copy one record per call and block. The queue holds capacity / record size
// messages (at least 16). Many writers may share it (fan-in).
#pragma once

#include <boost/interprocess/ipc/message_queue.hpp>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "peers/link_spec.hpp"

namespace shmbus::bench {

class BoostMq {
  public:
    static constexpr std::string_view kName = "boost-mq";
    static constexpr bool kBroadcast = false;
    static constexpr bool kMultiWriter = true;
    static constexpr bool kCanSpin = false;
    static constexpr bool kCanSleep = true;
    static constexpr bool kCanWaitFd = false;

    using Queue = boost::interprocess::message_queue;

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
        void send(std::span<const std::byte> record) {
            queue_->send(record.data(), record.size(), 0);
        }
        void send_many(std::span<const std::span<const std::byte>> records) {
            for (const auto record : records)
                send(record);
        }

      private:
        std::unique_ptr<Queue> queue_;
    };

    class Reader {
      public:
        Reader(Link& link, const PeerOptions&);

        template <typename Handler>
        std::size_t receive(Handler&& handler) {
            Queue::size_type got = 0;
            unsigned int priority = 0;
            queue_->receive(buffer_.data(), buffer_.size(), got, priority);
            handler(std::span<const std::byte>(buffer_.data(), got));
            return 1;
        }

      private:
        std::unique_ptr<Queue> queue_;
        std::vector<std::byte> buffer_;
    };
};

}  // namespace shmbus::bench
