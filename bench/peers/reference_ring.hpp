// The reference: about the least that moving a record from one process to another can cost on
// this machine. A single-producer, single-consumer ring of fixed slots in a MAP_SHARED file
// that both processes map: the writer copies a record into the next slot and release-stores
// the head; the reader spins on the head with acquire loads, reads the slot in place and
// release-stores the tail. Head and tail sit on cache lines of their own (two lines apart, so
// the adjacent-line prefetcher does not pair them), each side caches the other's counter and
// reloads it only when the ring looks full or empty, and the spin has no `pause`. It knows one
// record size, one writer and one reader, and nothing about crashes, permissions or
// hostile input: a floor to measure shmbus against, not a design.
//
//   offset 0     slot size, slot count
//   offset 128   head: slots written (the writer's line)
//   offset 256   tail: slots read (the reader's line)
//   offset 4096  slot 0, slot 1, ...   (slot size: the record size rounded up to 64 bytes)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "peers/link_spec.hpp"

namespace shmbus::bench {

class ReferenceRing {
  public:
    static constexpr std::string_view kName = "reference";
    static constexpr bool kBroadcast = false;
    static constexpr bool kMultiWriter = false;
    static constexpr bool kCanSpin = true;
    static constexpr bool kCanSleep = false;
    static constexpr bool kCanWaitFd = false;

    struct Layout {
        std::uint64_t slot_size;
        std::uint64_t slot_count;
        alignas(128) std::uint64_t head;
        alignas(128) std::uint64_t tail;
    };
    static constexpr std::size_t kSlotsOffset = 4096;

    class Link {
      public:
        explicit Link(const LinkSpec& spec);
        ~Link();
        Link(const Link&) = delete;
        Link& operator=(const Link&) = delete;
        [[nodiscard]] const std::string& path() const noexcept { return path_; }
        [[nodiscard]] std::size_t record_size() const noexcept { return record_size_; }
        [[nodiscard]] bool prefault() const noexcept { return prefault_; }

      private:
        std::string path_;
        std::size_t record_size_;
        bool prefault_;
    };

    /// The ring file mapped into this process.
    class Mapping {
      public:
        explicit Mapping(const Link& link);
        ~Mapping();
        Mapping(const Mapping&) = delete;
        Mapping& operator=(const Mapping&) = delete;
        [[nodiscard]] Layout& layout() const noexcept { return *static_cast<Layout*>(base_); }
        [[nodiscard]] std::byte* slots() const noexcept {
            return static_cast<std::byte*>(base_) + kSlotsOffset;
        }

      private:
        void* base_ = nullptr;
        std::size_t size_ = 0;
    };

    class Writer {
      public:
        Writer(Link& link, const PeerOptions&)
            : mapping_(link),
              layout_(mapping_.layout()),
              slots_(mapping_.slots()),
              slot_size_(layout_.slot_size),
              slot_count_(layout_.slot_count) {}

        void send(std::span<const std::byte> record) noexcept {
            while (head_ - cached_tail_ == slot_count_) {
                // Acquire: pairs with the reader's release store of the tail; the slot it
                // frees is read completely before we overwrite it.
                cached_tail_ =
                    std::atomic_ref<std::uint64_t>(layout_.tail).load(std::memory_order_acquire);
            }
            std::memcpy(slots_ + (head_ % slot_count_) * slot_size_, record.data(), record.size());
            ++head_;
            // Release: pairs with the reader's acquire load of the head; the slot's bytes are
            // visible before the head that covers them.
            std::atomic_ref<std::uint64_t>(layout_.head).store(head_, std::memory_order_release);
        }

        void send_many(std::span<const std::span<const std::byte>> records) noexcept {
            for (const auto record : records)
                send(record);
        }

      private:
        Mapping mapping_;
        Layout& layout_;
        std::byte* slots_;
        std::uint64_t slot_size_;
        std::uint64_t slot_count_;
        std::uint64_t head_ = 0;
        std::uint64_t cached_tail_ = 0;
    };

    class Reader {
      public:
        Reader(Link& link, const PeerOptions&)
            : mapping_(link),
              layout_(mapping_.layout()),
              slots_(mapping_.slots()),
              slot_size_(layout_.slot_size),
              slot_count_(layout_.slot_count),
              record_size_(link.record_size()) {}

        template <typename Handler>
        std::size_t receive(Handler&& handler) noexcept {
            while (tail_ == cached_head_) {
                // Acquire: pairs with the writer's release store of the head.
                cached_head_ =
                    std::atomic_ref<std::uint64_t>(layout_.head).load(std::memory_order_acquire);
            }
            std::size_t taken = 0;
            do {
                handler(std::span<const std::byte>(slots_ + (tail_ % slot_count_) * slot_size_,
                                                   record_size_));
                ++tail_;
                // Release: pairs with the writer's acquire load of the tail; we are done with
                // the slot before the writer may reuse it.
                std::atomic_ref<std::uint64_t>(layout_.tail)
                    .store(tail_, std::memory_order_release);
                ++taken;
            } while (tail_ != cached_head_ && taken < kMostPerReceive);
            return taken;
        }

      private:
        static constexpr std::size_t kMostPerReceive = 256;
        Mapping mapping_;
        Layout& layout_;
        const std::byte* slots_;
        std::uint64_t slot_size_;
        std::uint64_t slot_count_;
        std::size_t record_size_;
        std::uint64_t tail_ = 0;
        std::uint64_t cached_head_ = 0;
    };
};

}  // namespace shmbus::bench
