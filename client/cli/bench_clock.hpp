// Timing single round trips for `shmbus bench --test latency`, the way the benchmark harness
// does (bench/core/clock.hpp): the time-stamp counter read with rdtscp, converted with a rate
// measured against CLOCK_MONOTONIC_RAW; every sample kept, percentiles by nearest rank.
#pragma once

#include <cstdint>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#else
#include <time.h>
#endif

namespace shmbus::cli {

[[nodiscard]] inline std::uint64_t bench_ticks() noexcept {
#if defined(__x86_64__)
    unsigned int processor = 0;
    return __rdtscp(&processor);
#else
    timespec now{};  // elsewhere: CLOCK_MONOTONIC nanoseconds, one tick per nanosecond
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(now.tv_nsec);
#endif
}

/// Nanoseconds per tick of bench_ticks(), measured over about 50 ms.
[[nodiscard]] double calibrate_ticks();

/// min, p50, p90, p99, p99.9, max, mean of `ticks` (sorted in place) in nanoseconds, divided by
/// `divisor`.
void summarize_ticks(std::vector<std::uint64_t>& ticks, double ns_per_tick, double divisor,
                     double (&out)[7]);

}  // namespace shmbus::cli
