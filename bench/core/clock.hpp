// Clocks for measuring.
//
// monotonic_ns() is CLOCK_MONOTONIC: one time line for every process on the machine, used where
// one process stamps a start and another an end (throughput). CycleClock reads the time-stamp
// counter for the round trips of a ping-pong, where a sample is taken within one process and
// the clock's own cost is part of every sample: rdtscp costs a few nanoseconds, a vDSO
// clock_gettime about twenty.
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace shmbus::bench {

/// CLOCK_MONOTONIC, in nanoseconds.
[[nodiscard]] std::uint64_t monotonic_ns() noexcept;

class CycleClock {
  public:
    /// Measures the counter's rate against CLOCK_MONOTONIC_RAW over about 50 ms.
    [[nodiscard]] static CycleClock calibrate();

    /// The counter now. rdtscp waits until every earlier instruction has executed, so a sample
    /// taken after a receive does not start before it.
    [[nodiscard]] static std::uint64_t now() noexcept {
#if defined(__x86_64__)
        unsigned int processor = 0;
        return __rdtscp(&processor);
#else
        return monotonic_ns();
#endif
    }

    [[nodiscard]] double to_ns(double ticks) const noexcept {
        return ticks * ns_per_tick_;
    }
    [[nodiscard]] double ns_per_tick() const noexcept {
        return ns_per_tick_;
    }

  private:
    explicit CycleClock(double ns_per_tick) noexcept : ns_per_tick_(ns_per_tick) {}
    double ns_per_tick_;
};

}  // namespace shmbus::bench
