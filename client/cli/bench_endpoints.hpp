// How `shmbus bench` publishes and receives, the same way as the benchmark harness's shmbus
// peer (bench/peers/shmbus_peer.hpp) so that their figures can be compared:
//
//   publish, spin    try_offer, or try_offer_batch for batches, again while back-pressured
//   publish, sleep   offer, or offer_batch: spins briefly, then sleeps while back-pressured
//   receive, spin    poll() in a loop
//   receive, sleep   poll(), and when it finds nothing wait() with SubscriberOptions::spin = 0
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>

#include "shmbus/publisher.hpp"
#include "shmbus/subscriber.hpp"

namespace shmbus::cli {

inline constexpr std::chrono::nanoseconds kBenchSpinForever = std::chrono::hours(1);
inline constexpr std::chrono::milliseconds kBenchLongestWait{100};

[[noreturn]] inline void bench_failed(const char* what, Status status) {
    throw std::runtime_error(fmt::format("{}: {}", what, to_string(status)));
}

inline void bench_publish(Publisher& publisher, std::span<const std::byte> record, bool sleep) {
    Status status;
    if (sleep) {
        status = publisher.offer(record);
    } else {
        do {
            status = publisher.try_offer(record);
        } while (status == Status::kBackPressured);
    }
    if (status != Status::kOk) bench_failed("publishing", status);
}

inline void bench_publish_batch(Publisher& publisher,
                                std::span<const std::span<const std::byte>> records, bool sleep) {
    std::size_t done = 0;
    while (done < records.size()) {
        std::size_t published = 0;
        const Status status = sleep ? publisher.offer_batch(records.subspan(done), published)
                                    : publisher.try_offer_batch(records.subspan(done), published);
        done += published;
        if (status != Status::kOk && status != Status::kBackPressured) {
            bench_failed("publishing a batch", status);
        }
    }
}

/// Hands at least one record to `handler(std::span<const std::byte>)`, waiting as asked; 0 only
/// when `give_up()` says so while nothing came.
template <typename Handler, typename GiveUp>
std::size_t bench_receive(Subscriber& subscriber, bool sleep, Handler&& handler, GiveUp&& give_up) {
    for (;;) {
        const PollResult result =
            subscriber.poll([&handler](const Record& record) { handler(record.payload); });
        if (result.status != Status::kOk && result.status != Status::kCorrupt) {
            bench_failed("polling", result.status);
        }
        if (result.records > 0) return result.records;
        if (give_up()) return 0;
        if (sleep) {
            const Status status = subscriber.wait(kBenchLongestWait);
            if (status != Status::kOk && status != Status::kTimedOut) {
                bench_failed("waiting", status);
            }
        }
    }
}

/// The record stamp: sequence, publisher, run tag (see kBenchRecordMinimum).
inline void bench_stamp(std::span<std::byte> record, std::uint64_t sequence,
                        std::uint64_t publisher, std::uint64_t tag) noexcept {
    std::memcpy(record.data(), &sequence, 8);
    std::memcpy(record.data() + 8, &publisher, 8);
    std::memcpy(record.data() + 16, &tag, 8);
}

struct BenchStamp {
    std::uint64_t sequence = 0;
    std::uint64_t publisher = 0;
    bool ours = false;
};

/// Reads a record's stamp; `ours` is false for a record of another program (other length or
/// tag).
[[nodiscard]] inline BenchStamp bench_read_stamp(std::span<const std::byte> record,
                                                 std::size_t size, std::uint64_t tag) noexcept {
    BenchStamp stamp;
    if (record.size() != size) return stamp;
    std::uint64_t found = 0;
    std::memcpy(&found, record.data() + 16, 8);
    if (found != tag) return stamp;
    std::memcpy(&stamp.sequence, record.data(), 8);
    std::memcpy(&stamp.publisher, record.data() + 8, 8);
    stamp.ours = true;
    return stamp;
}

}  // namespace shmbus::cli
