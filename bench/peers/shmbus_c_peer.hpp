// shmbus through its C API (shmbus.h), used the way a C program uses it: the same topics and
// the same paths as ShmbusPeer, so that a stream of each, back to back, says what the C API
// costs over the C++ API (both are linked from the same static library).
//
//   Writer, spin mode    shmbus_publisher_try_offer (or try_offer_batch) again while
//                        back-pressured (SHMBUS_E_BACK_PRESSURED)
//   Writer, sleep mode   shmbus_publisher_offer (or offer_batch) with no timeout: spins for
//                        the publisher's spin_ns, then sleeps
//   Reader, spin mode    shmbus_subscriber_poll in a loop, with a C handler (a function pointer
//                        and a context pointer, as C has it) that calls the case's handler
//   Reader, sleep mode   shmbus_subscriber_poll, and when it finds nothing
//                        shmbus_subscriber_wait, with spin_ns 0
//
// PeerOptions::api picks the publish path for send_many: kBatch hands the records to
// shmbus_publisher_try_offer_batch as an array of shmbus_buffer (up to 64 claimed with one CAS
// and committed with one fence); kSingle calls shmbus_publisher_try_offer record by record.
// The case hands records over as spans; turning them into shmbus_buffers (two stores each) is
// part of what this peer measures, as it is part of what a C caller holding spans would pay.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "peers/link_spec.hpp"
#include "shmbus/shmbus.h"

namespace shmbus::bench {

/// Throws std::runtime_error naming `what`, the status and shmbus_last_error_message().
[[noreturn]] void fail_shmbus_c(const char* what, int status);

class ShmbusCPeer {
  public:
    static constexpr std::string_view kName = "shmbus-c";
    static constexpr bool kBroadcast = true;
    static constexpr bool kMultiWriter = true;
    static constexpr bool kCanSpin = true;
    static constexpr bool kCanSleep = true;
    static constexpr bool kCanWaitFd = false;

    class Link {
      public:
        explicit Link(const LinkSpec& spec);
        ~Link();
        Link(const Link&) = delete;
        Link& operator=(const Link&) = delete;
        [[nodiscard]] const std::string& directory() const noexcept { return dir_; }
        [[nodiscard]] const std::string& topic() const noexcept { return topic_; }

      private:
        std::string dir_;
        std::string topic_;
    };

    class Writer {
      public:
        Writer(Link& link, const PeerOptions& options);
        ~Writer();
        Writer(const Writer&) = delete;
        Writer& operator=(const Writer&) = delete;

        void send(std::span<const std::byte> record) {
            int status;
            if (mode_ == WaitMode::kSpin) {
                do {
                    status = shmbus_publisher_try_offer(publisher_, record.data(), record.size());
                } while (status == SHMBUS_E_BACK_PRESSURED);
            } else {
                status = shmbus_publisher_offer(publisher_, record.data(), record.size(),
                                                SHMBUS_WAIT_FOREVER);
            }
            if (status != SHMBUS_OK) fail_shmbus_c("publishing", status);
        }

        void send_many(std::span<const std::span<const std::byte>> records) {
            if (api_ == PublishApi::kSingle) {
                for (const auto record : records)
                    send(record);
                return;
            }
            buffers_.resize(records.size());
            for (std::size_t i = 0; i < records.size(); ++i) {
                buffers_[i] = shmbus_buffer{records[i].data(), records[i].size()};
            }
            std::size_t done = 0;
            while (done < buffers_.size()) {
                std::size_t published = 0;
                const int status =
                    mode_ == WaitMode::kSpin
                        ? shmbus_publisher_try_offer_batch(publisher_, buffers_.data() + done,
                                                           buffers_.size() - done, &published)
                        : shmbus_publisher_offer_batch(publisher_, buffers_.data() + done,
                                                       buffers_.size() - done, SHMBUS_WAIT_FOREVER,
                                                       &published);
                done += published;
                if (status != SHMBUS_OK && status != SHMBUS_E_BACK_PRESSURED) {
                    fail_shmbus_c("publishing a batch", status);
                }
            }
        }

      private:
        shmbus_topic* topic_ = nullptr;
        shmbus_publisher* publisher_ = nullptr;
        WaitMode mode_;
        PublishApi api_;
        std::vector<shmbus_buffer> buffers_;
    };

    class Reader {
      public:
        Reader(Link& link, const PeerOptions& options);
        ~Reader();
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;

        template <typename Handler>
        std::size_t receive(Handler&& handler) {
            using Bare = std::remove_reference_t<Handler>;
            for (;;) {
                std::size_t records = 0;
                void* context = const_cast<void*>(static_cast<const void*>(&handler));
                const int status =
                    shmbus_subscriber_poll(subscriber_, &deliver<Bare>, context, 0, &records);
                if (status != SHMBUS_OK) fail_shmbus_c("polling", status);
                if (records > 0) return records;
                if (mode_ == WaitMode::kSleep) {
                    const int waited = shmbus_subscriber_wait(subscriber_, kLongestWaitNs);
                    if (waited != SHMBUS_OK && waited != SHMBUS_E_TIMED_OUT) {
                        fail_shmbus_c("waiting", waited);
                    }
                }
            }
        }

      private:
        static constexpr std::int64_t kLongestWaitNs = 100'000'000;  // 100 ms

        /// The C handler: `context` is the case's handler.
        template <typename Handler>
        static int deliver(void* context, const shmbus_record* record) {
            (*static_cast<Handler*>(context))(std::span<const std::byte>(
                static_cast<const std::byte*>(record->payload), record->length));
            return 0;
        }

        shmbus_topic* topic_ = nullptr;
        shmbus_subscriber* subscriber_ = nullptr;
        WaitMode mode_;
    };
};

}  // namespace shmbus::bench
