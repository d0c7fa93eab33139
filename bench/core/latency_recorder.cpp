#include "core/latency_recorder.hpp"

#include <algorithm>
#include <cmath>

namespace shmbus::bench {

LatencyRecorder::LatencyRecorder(std::size_t capacity) : ticks_(capacity, 0) {}

LatencySummary LatencyRecorder::summarize(const CycleClock& clock, double divisor) {
    LatencySummary summary;
    if (count_ == 0) return summary;
    std::sort(ticks_.begin(), ticks_.begin() + static_cast<std::ptrdiff_t>(count_));
    // Nearest rank: the smallest sample with at least `fraction` of the samples at or below it.
    const auto at = [&](double fraction) {
        const double rank = std::ceil(fraction * static_cast<double>(count_));
        const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
        return clock.to_ns(static_cast<double>(ticks_[std::min(index, count_ - 1)])) / divisor;
    };
    double total = 0;
    for (std::size_t i = 0; i < count_; ++i)
        total += static_cast<double>(ticks_[i]);
    summary.min_ns = clock.to_ns(static_cast<double>(ticks_[0])) / divisor;
    summary.p50_ns = at(0.50);
    summary.p90_ns = at(0.90);
    summary.p99_ns = at(0.99);
    summary.p999_ns = at(0.999);
    summary.max_ns = clock.to_ns(static_cast<double>(ticks_[count_ - 1])) / divisor;
    summary.mean_ns = clock.to_ns(total / static_cast<double>(count_)) / divisor;
    summary.samples = count_;
    return summary;
}

}  // namespace shmbus::bench
