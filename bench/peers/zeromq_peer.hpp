// ZeroMQ: a PAIR socket pair over ipc:// (a Unix socket in the case's scratch directory). The
// reader binds, the writer connects and waits until the connection is up, so no record waits
// for a reconnect timer. zmq_send and zmq_recv copy one record per call and block; ZeroMQ's
// I/O thread (one per process, on the process's CPU) moves the bytes and batches them into
// the socket. High-water marks are set to the link's capacity in records, so a full link
// blocks the writer instead of dropping. PAIR takes one peer: no fan-in on one link.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "peers/link_spec.hpp"

namespace shmbus::bench {

class ZeromqPeer {
  public:
    static constexpr std::string_view kName = "zeromq";
    static constexpr bool kBroadcast = false;
    static constexpr bool kMultiWriter = false;
    static constexpr bool kCanSpin = false;
    static constexpr bool kCanSleep = true;
    static constexpr bool kCanWaitFd = false;

    class Link {
      public:
        explicit Link(const LinkSpec& spec);
        ~Link();
        Link(const Link&) = delete;
        Link& operator=(const Link&) = delete;
        [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }
        [[nodiscard]] const std::string& path() const noexcept { return path_; }
        [[nodiscard]] std::size_t record_size() const noexcept { return record_size_; }
        [[nodiscard]] int high_water_mark() const noexcept { return high_water_mark_; }

      private:
        std::string path_;
        std::string endpoint_;
        std::size_t record_size_;
        int high_water_mark_;
    };

    /// One ZeroMQ context per process, shared by its sockets; terminated (flushing what is
    /// still queued) when the last socket is gone.
    using Context = std::shared_ptr<void>;

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
        Context context_;
        void* socket_ = nullptr;
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
        Context context_;
        void* socket_ = nullptr;
        std::vector<std::byte> buffer_;
    };
};

}  // namespace shmbus::bench
