// The two halves of a stress test, usable from a forked process or from a thread: a publisher
// that writes checkable records (support/payload.hpp) through every publishing call, and a
// subscriber that checks every record it gets and the topic's accounting.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <shmbus/shmbus.hpp>
#include <string>

#include "support/child_process.hpp"

namespace shmbus::test {

struct PublishPlan {
    std::uint64_t records = 0;  // counters 0 .. records-1 of the publisher's slot
    std::uint32_t max_record_size = 0;
    std::uint32_t abort_one_in =
        0;  // abort a claim (then publish the record again) 1 in N; 0: never
    Clock::time_point deadline = Clock::time_point::max();
    std::atomic<std::uint64_t>* published = nullptr;  // progress, updated now and then
    std::atomic<std::uint64_t>* aborted = nullptr;    // claims aborted, at the end
};

/// Publishes plan.records records, mixing claim/commit, offer and offer_batch, each waiting at
/// most until the deadline. Returns what went wrong, or an empty string.
[[nodiscard]] std::string publish_records(Publisher& publisher, const PublishPlan& plan);

struct ReadPlan {
    std::uint64_t total = 0;  // records all publishers publish together
    std::uint32_t publishers = 0;
    std::uint32_t max_record_size = 0;
    bool lossless = true;                 // block topic: every record, and nothing lost
    std::size_t batch = 256;              // records per poll
    std::chrono::nanoseconds pause = {};  // sleep after each poll: a slow subscriber
    Clock::time_point deadline = Clock::time_point::max();
    /// Overwrite topics: true once every publisher has finished. The subscriber then reads up to
    /// the tail and stops.
    std::function<bool()> publishers_done;
    std::atomic<std::uint64_t>* received = nullptr;  // progress
};

struct ReadResult {
    std::uint64_t received = 0;
    std::uint64_t lost = 0;
    std::uint64_t voided = 0;
    std::uint64_t corrupt = 0;
    std::uint64_t digest = 0;  // order of (slot, counter): equal for subscribers that saw the same
    std::string error;         // empty if every check passed

    /// "received=R lost=L voided=V corrupt=C digest=D" or "error: ...", one line.
    [[nodiscard]] std::string line() const;
    /// Parses line(); the error is set if the line is an error or unreadable.
    [[nodiscard]] static ReadResult parse(const std::string& line);
};

/// Reads until every record is accounted for (lossless: all received; otherwise: publishers
/// done and caught up with the tail), checking each record's integrity, per-publisher order and
/// sequence number as it goes.
[[nodiscard]] ReadResult read_records(Subscriber& subscriber, const ReadPlan& plan);

}  // namespace shmbus::test
