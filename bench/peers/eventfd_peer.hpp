// An eventfd as the doorbell of a ring in shared memory: what a program that keeps its records in
// shared memory and sleeps in the kernel builds without shmbus, and the nearest kin of shmbus's
// wake descriptor (shmbus_peer.hpp, --mode fd). Shaped like pipe_peer: the writer makes one
// system call per record and the reader one per wake-up. The writer copies the record into the
// next slot, release-stores the head and write()s 1 to the eventfd; the reader read()s the
// eventfd, which blocks until the count is not zero and takes it, and hands out that many
// records. A ping-pong so costs each side one write() and one read() per record, as a pipe does;
// the records themselves never pass through the kernel.
//
// A full ring makes the writer sleep on a second eventfd, which the reader posts only when the
// writer says it waits: each side stores its word and then loads the other's (seq_cst), so
// either the writer sees the room or the reader sees the writer waiting. One writer, one reader;
// sleeping only. The link is an anonymous shared mapping and two eventfds, made before the fork:
//
//   offset 0     head: records written (the writer's line)
//   offset 128   tail: records read (the reader's line)
//   offset 256   1 while the writer sleeps for room
//   offset 4096  slot 0, slot 1, ...   (slot size: the record size rounded up to 64 bytes)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "peers/link_spec.hpp"
#include "shmbus/detail/util/unique_fd.hpp"

namespace shmbus::bench {

class EventfdPeer {
  public:
    static constexpr std::string_view kName = "eventfd";
    static constexpr bool kBroadcast = false;
    static constexpr bool kMultiWriter = false;
    static constexpr bool kCanSpin = false;
    static constexpr bool kCanSleep = true;
    static constexpr bool kCanWaitFd = false;

    struct Layout {
        alignas(128) std::uint64_t head;
        alignas(128) std::uint64_t tail;
        alignas(128) std::uint32_t writer_waiting;
    };
    static constexpr std::size_t kSlotsOffset = 4096;
    static_assert(sizeof(Layout) <= kSlotsOffset);

    class Link {
      public:
        explicit Link(const LinkSpec& spec);
        ~Link();
        Link(const Link&) = delete;
        Link& operator=(const Link&) = delete;
        [[nodiscard]] Layout& layout() const noexcept { return *static_cast<Layout*>(base_); }
        [[nodiscard]] std::byte* slots() const noexcept {
            return static_cast<std::byte*>(base_) + kSlotsOffset;
        }
        [[nodiscard]] std::uint64_t slot_size() const noexcept { return slot_size_; }
        [[nodiscard]] std::uint64_t slot_count() const noexcept { return slot_count_; }
        [[nodiscard]] std::size_t record_size() const noexcept { return record_size_; }
        [[nodiscard]] int records_fd() const noexcept { return records_.get(); }
        [[nodiscard]] int room_fd() const noexcept { return room_.get(); }

      private:
        void* base_ = nullptr;
        std::size_t size_ = 0;
        std::uint64_t slot_size_;
        std::uint64_t slot_count_;
        std::size_t record_size_;
        util::UniqueFd records_;  // counts records written and not yet announced to the reader
        util::UniqueFd room_;     // posted when the reader frees slots for a waiting writer
    };

    class Writer {
      public:
        Writer(Link& link, const PeerOptions&) : link_(link) {}
        void send(std::span<const std::byte> record);
        void send_many(std::span<const std::span<const std::byte>> records) {
            for (const auto record : records)
                send(record);
        }

      private:
        void wait_for_room();
        Link& link_;
        std::uint64_t head_ = 0;
        std::uint64_t cached_tail_ = 0;
    };

    class Reader {
      public:
        Reader(Link& link, const PeerOptions&) : link_(link) {}

        template <typename Handler>
        std::size_t receive(Handler&& handler) {
            const std::uint64_t announced = await_records();
            for (std::uint64_t i = 0; i < announced; ++i) {
                handler(std::span<const std::byte>(
                    link_.slots() + ((tail_ + i) % link_.slot_count()) * link_.slot_size(),
                    link_.record_size()));
            }
            tail_ += announced;
            release_slots();
            return static_cast<std::size_t>(announced);
        }

      private:
        /// Sleeps in read() until records are announced; how many.
        std::uint64_t await_records();
        /// Publishes the tail, and posts the writer if it sleeps for room.
        void release_slots();
        Link& link_;
        std::uint64_t tail_ = 0;
    };
};

}  // namespace shmbus::bench
