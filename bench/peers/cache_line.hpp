// The floor: one cache line bounced between two processes. A link is a single 64-byte line in a
// MAP_SHARED file; the writer copies a record of at most 64 bytes into it, its first word last
// (a release store), and the reader spins on that word with acquire loads until it changes,
// then copies the line out. The word that signals is the record's own first 8 bytes, which
// every harness record fills with its sequence number (core/record_stamp.hpp), so consecutive
// records always differ there; the line starts with all ones, which no record begins with.
//
// One line carries the data and the signal, so a message costs one line transfer: nothing
// between two processes can cost less. It is a latency reference only: there is no buffering
// (a second send overwrites the first whether or not it was read), so the ping-pong is its one
// case, and records of more than 64 bytes are refused.
//
//   offset 0    the line: record bytes 0..63 (bytes 0..7 the signal)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "peers/link_spec.hpp"

namespace shmbus::bench {

class CacheLine {
  public:
    static constexpr std::string_view kName = "cache-line";
    static constexpr bool kBroadcast = false;
    static constexpr bool kMultiWriter = false;
    static constexpr bool kCanSpin = true;
    static constexpr bool kCanSleep = false;
    static constexpr bool kCanWaitFd = false;
    static constexpr std::size_t kLineSize = 64;
    static constexpr std::uint64_t kNoRecord = ~std::uint64_t{0};

    class Link {
      public:
        explicit Link(const LinkSpec& spec);
        ~Link();
        Link(const Link&) = delete;
        Link& operator=(const Link&) = delete;
        [[nodiscard]] const std::string& path() const noexcept { return path_; }
        [[nodiscard]] std::size_t record_size() const noexcept { return record_size_; }

      private:
        std::string path_;
        std::size_t record_size_;
    };

    /// The link's line mapped into this process.
    class Mapping {
      public:
        explicit Mapping(const Link& link);
        ~Mapping();
        Mapping(const Mapping&) = delete;
        Mapping& operator=(const Mapping&) = delete;
        [[nodiscard]] std::byte* line() const noexcept { return static_cast<std::byte*>(base_); }
        [[nodiscard]] std::uint64_t& signal() const noexcept {
            return *static_cast<std::uint64_t*>(base_);
        }

      private:
        void* base_ = nullptr;
    };

    class Writer {
      public:
        Writer(Link& link, const PeerOptions&) : mapping_(link) {}

        void send(std::span<const std::byte> record) noexcept {
            std::uint64_t first = 0;
            std::memcpy(&first, record.data(), sizeof first);
            std::memcpy(mapping_.line() + sizeof first, record.data() + sizeof first,
                        record.size() - sizeof first);
            // Release: pairs with the reader's acquire load; the rest of the line is visible
            // with the word that says it changed.
            std::atomic_ref<std::uint64_t>(mapping_.signal())
                .store(first, std::memory_order_release);
        }

        void send_many(std::span<const std::span<const std::byte>> records) noexcept {
            for (const auto record : records)
                send(record);
        }

      private:
        Mapping mapping_;
    };

    class Reader {
      public:
        Reader(Link& link, const PeerOptions&) : mapping_(link), record_size_(link.record_size()) {}

        template <typename Handler>
        std::size_t receive(Handler&& handler) noexcept {
            std::uint64_t first = last_;
            // Acquire: pairs with the writer's release store of the first word.
            while ((first = std::atomic_ref<std::uint64_t>(mapping_.signal())
                                .load(std::memory_order_acquire)) == last_) {
            }
            last_ = first;
            handler(std::span<const std::byte>(mapping_.line(), record_size_));
            return 1;
        }

      private:
        Mapping mapping_;
        std::size_t record_size_;
        std::uint64_t last_ = kNoRecord;
    };
};

}  // namespace shmbus::bench
