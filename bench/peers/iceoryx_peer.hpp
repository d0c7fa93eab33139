// iceoryx 2.0 (Debian's packages): the untyped publisher and subscriber API, zero-copy in
// shared memory managed by the RouDi daemon (iox-roudi), which the sweep starts and stops.
//
//   Writer   loan a chunk, copy the record in, publish. The publisher waits for a full
//            subscriber queue (ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER with the subscriber's
//            QueueFullPolicy::BLOCK_PRODUCER), so nothing is dropped.
//   Reader   spin mode: take() in a loop, iceoryx's busy-poll mode; sleep mode: a WaitSet
//            attached to the subscriber's HAS_DATA state, then take() until the queue is empty.
//            The subscriber queue holds 256 chunks, iceoryx's maximum.
// Each process registers with RouDi once, under a name made of its process id.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "peers/link_spec.hpp"

namespace shmbus::bench {

class IceoryxPeer {
  public:
    static constexpr std::string_view kName = "iceoryx";
    static constexpr bool kBroadcast = true;
    static constexpr bool kMultiWriter = true;
    static constexpr bool kCanSpin = true;
    static constexpr bool kCanSleep = true;
    static constexpr bool kCanWaitFd = false;

    class Link {
      public:
        explicit Link(const LinkSpec& spec)
            : instance_(spec.unique), event_(spec.name), record_size_(spec.record_size) {}
        [[nodiscard]] const std::string& instance() const noexcept { return instance_; }
        [[nodiscard]] const std::string& event() const noexcept { return event_; }
        [[nodiscard]] std::size_t record_size() const noexcept { return record_size_; }

      private:
        std::string instance_;
        std::string event_;
        std::size_t record_size_;
    };

    class Writer {
      public:
        Writer(Link& link, const PeerOptions& options);
        ~Writer();
        Writer(const Writer&) = delete;
        Writer& operator=(const Writer&) = delete;
        void send(std::span<const std::byte> record);
        void send_many(std::span<const std::span<const std::byte>> records) {
            for (const auto record : records)
                send(record);
        }

      private:
        struct State;
        std::unique_ptr<State> state_;
    };

    class Reader {
      public:
        Reader(Link& link, const PeerOptions& options);
        ~Reader();
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;

        template <typename Handler>
        std::size_t receive(Handler&& handler) {
            for (;;) {
                std::size_t taken = 0;
                while (taken < kMostPerReceive) {
                    const std::span<const std::byte> record = take();
                    if (record.data() == nullptr) break;
                    handler(record);
                    release(record);
                    ++taken;
                }
                if (taken > 0) return taken;
                if (sleeps_) sleep_until_data();
            }
        }

      private:
        static constexpr std::size_t kMostPerReceive = 256;
        /// The next chunk's payload, or an empty span with a null pointer if the queue is empty.
        [[nodiscard]] std::span<const std::byte> take();
        void release(std::span<const std::byte> record);
        void sleep_until_data();

        struct State;
        std::unique_ptr<State> state_;
        bool sleeps_;
    };
};

}  // namespace shmbus::bench
