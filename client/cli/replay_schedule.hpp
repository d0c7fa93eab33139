// When each record of `shmbus replay` is due: at the recording's own spacing scaled by a
// speed, at a fixed rate, or at once (docs/CLI.md, "shmbus replay").
//
// A schedule gives offsets from the moment the first record was published, never intervals
// from the record before: the command sleeps until an absolute deadline (first + offset), so
// time spent publishing, waiting for room or oversleeping does not add up over a replay. A
// record whose deadline has passed is due at once.
#pragma once

#include <chrono>
#include <cstdint>

namespace shmbus::cli {

/// How a replay spaces its records.
struct Pace {
    enum class Kind {
        kRecorded,  // as the entries' timestamps were spaced, divided by `factor` (the speed)
        kRate,      // `factor` records per second, whatever the timestamps say
        kAtOnce,    // no waiting: each record as soon as the topic takes it
    };
    Kind kind = Kind::kRecorded;
    double factor = 1.0;  // a speed or a rate: positive and finite; unused for kAtOnce
};

class ReplaySchedule {
  public:
    explicit ReplaySchedule(Pace pace) noexcept : pace_(pace) {}

    /// The offset after the first record at which the next record, stamped `timestamp_ns`
    /// (CLOCK_REALTIME), is due. The first record is due at 0. Timestamps need not increase (each
    /// publisher stamps its own): one below the largest seen so far counts as that largest, so
    /// it is due at once after the record before it. At most about 31 years (kMaxOffset).
    [[nodiscard]] std::chrono::nanoseconds next(std::uint64_t timestamp_ns) noexcept;

    /// The largest offset next() returns, so that a deadline never overflows.
    static constexpr std::chrono::nanoseconds kMaxOffset{std::int64_t{1'000'000'000} *
                                                         1'000'000'000};

  private:
    Pace pace_;
    std::uint64_t records_ = 0;    // next() calls so far
    std::uint64_t first_ns_ = 0;   // the first record's timestamp
    std::uint64_t latest_ns_ = 0;  // the largest timestamp so far
};

}  // namespace shmbus::cli
