// shmbus itself, used the way an application uses it.
//
//   Writer, spin mode    try_offer (or try_offer_batch) again while back-pressured
//   Writer, sleep, fd    offer (or offer_batch): spins for PublisherOptions::spin, then sleeps
//   Reader, spin mode    poll() in a loop: the busy-spinning subscriber
//   Reader, sleep mode   poll(), and when it finds nothing wait(), with SubscriberOptions::spin
//                        set to 0: the subscriber goes straight to sleep on its semaphore
//   Reader, fd mode      poll(), and when it finds nothing arm(), and unless arm() says to poll
//                        again, epoll_wait on wake_fd() (level-triggered): an event loop with
//                        one subscriber, as subscriber.hpp describes beside wake_fd()
//
// PeerOptions::api picks the publish path for send_many: kBatch claims up to 64 records with one
// CAS and commits them with one fence (try_offer_batch); kSingle publishes record by record
// (try_offer: one CAS and one seq_cst store each). PeerOptions::timestamps is the topic's
// `timestamps` setting. Topics are block topics (lossless) with the given capacity.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>

#include "peers/link_spec.hpp"
#include "shmbus/detail/util/unique_fd.hpp"
#include "shmbus/publisher.hpp"
#include "shmbus/status.hpp"
#include "shmbus/subscriber.hpp"
#include "shmbus/topic.hpp"

namespace shmbus::bench {

[[noreturn]] void fail_shmbus(const char* what, Status status);

class ShmbusPeer {
  public:
    static constexpr std::string_view kName = "shmbus";
    static constexpr bool kBroadcast = true;
    static constexpr bool kMultiWriter = true;
    static constexpr bool kCanSpin = true;
    static constexpr bool kCanSleep = true;
    static constexpr bool kCanWaitFd = true;

    class Link {
      public:
        explicit Link(const LinkSpec& spec);
        ~Link();
        Link(const Link&) = delete;
        Link& operator=(const Link&) = delete;
        [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }
        [[nodiscard]] const std::string& topic() const noexcept { return topic_; }

      private:
        std::filesystem::path dir_;
        std::string topic_;
    };

    class Writer {
      public:
        Writer(Link& link, const PeerOptions& options);

        void send(std::span<const std::byte> record) {
            Status status;
            if (mode_ == WaitMode::kSpin) {
                do {
                    status = publisher_.try_offer(record);
                } while (status == Status::kBackPressured);
            } else {
                status = publisher_.offer(record);
            }
            if (status != Status::kOk) fail_shmbus("publishing", status);
        }

        void send_many(std::span<const std::span<const std::byte>> records) {
            if (api_ == PublishApi::kSingle) {
                for (const auto record : records)
                    send(record);
                return;
            }
            std::size_t done = 0;
            while (done < records.size()) {
                std::size_t published = 0;
                const Status status =
                    mode_ == WaitMode::kSpin
                        ? publisher_.try_offer_batch(records.subspan(done), published)
                        : publisher_.offer_batch(records.subspan(done), published);
                done += published;
                if (status != Status::kOk && status != Status::kBackPressured) {
                    fail_shmbus("publishing a batch", status);
                }
            }
        }

      private:
        Topic topic_;
        Publisher publisher_;
        WaitMode mode_;
        PublishApi api_;
    };

    class Reader {
      public:
        Reader(Link& link, const PeerOptions& options);

        template <typename Handler>
        std::size_t receive(Handler&& handler) {
            for (;;) {
                const PollResult result =
                    subscriber_.poll([&handler](const Record& record) { handler(record.payload); });
                if (result.status != Status::kOk) fail_shmbus("polling", result.status);
                if (result.records > 0) return result.records;
                if (mode_ == WaitMode::kSleep) {
                    const Status status = subscriber_.wait(kLongestWait);
                    if (status != Status::kOk && status != Status::kTimedOut) {
                        fail_shmbus("waiting", status);
                    }
                } else if (mode_ == WaitMode::kFd) {
                    wait_on_descriptor();
                }
            }
        }

      private:
        static constexpr std::chrono::milliseconds kLongestWait{100};
        /// Arms the subscriber and, unless arm() says something came meanwhile, sleeps in
        /// epoll_wait until its wake descriptor is readable (or kLongestWait passed).
        void wait_on_descriptor();
        Topic topic_;
        Subscriber subscriber_;
        WaitMode mode_;
        util::UniqueFd epoll_;  // fd mode: an epoll set holding the subscriber's wake descriptor
    };
};

}  // namespace shmbus::bench
