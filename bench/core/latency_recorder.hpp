// Every sample of a latency run, kept exactly: 200,000 round trips are 1.6 MB, so percentiles
// come from the sorted samples themselves rather than from histogram buckets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/clock.hpp"

namespace shmbus::bench {

struct LatencySummary {
    double min_ns = 0;
    double p50_ns = 0;
    double p90_ns = 0;
    double p99_ns = 0;
    double p999_ns = 0;
    double max_ns = 0;
    double mean_ns = 0;
    std::uint64_t samples = 0;
};

class LatencyRecorder {
  public:
    /// Reserves and touches room for `capacity` samples, so recording never allocates or faults.
    explicit LatencyRecorder(std::size_t capacity);

    void add(std::uint64_t ticks) noexcept {
        if (count_ < ticks_.size()) ticks_[count_++] = ticks;
    }

    [[nodiscard]] std::size_t count() const noexcept { return count_; }

    /// Percentiles of the samples, converted to nanoseconds and divided by `divisor` (2 turns a
    /// round trip into the one-way latency). Sorts the samples.
    [[nodiscard]] LatencySummary summarize(const CycleClock& clock, double divisor);

  private:
    std::vector<std::uint64_t> ticks_;
    std::size_t count_ = 0;
};

}  // namespace shmbus::bench
