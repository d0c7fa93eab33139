// The publication time a publisher stamps on records: CLOCK_REALTIME nanoseconds, read cheaply.
//
// clock_gettime(CLOCK_REALTIME) goes through the vDSO with no system call, but it is not cheap
// on the hot path: on a KVM guest (kvm-clock) its serialising TSC read and pvclock reads cost a
// single-record 64-byte stream more than half its rate (bench/report/analysis.md). A bare TSC
// read costs a few nanoseconds and serialises nothing.
//
// So a RecordClock reads CLOCK_REALTIME at most about once a millisecond (an *anchor*: the
// clock and the TSC read together) and in between extrapolates from the last anchor with the
// TSC rate it measured between its last two anchors:
//
//   now = anchor_ns + (tsc - anchor_tsc) * ns_per_tick          while tsc - anchor_tsc < ~1 ms
//   else: a new anchor (clock_gettime, rdtsc), and the rate measured over the last interval
//
// What readers see is unchanged: CLOCK_REALTIME nanoseconds. The extrapolation's error is the
// rate's error over one interval: with clock reads good to tens of nanoseconds over a
// millisecond, tens of nanoseconds (measured in test_record_clock). A publisher's stamps never
// run backwards by more than that across an anchor, and a step of CLOCK_REALTIME (NTP,
// settimeofday) shows in its stamps within a millisecond.
//
// The TSC is used only where the CPU says it is invariant (constant rate, running in every
// power state: CPUID 0x80000007, EDX bit 8); elsewhere, and on other architectures, every stamp is
// a clock_gettime. A TSC that jumps (a VM migrated) only forces an anchor: any elapsed count
// beyond the interval, backwards included, does.
#pragma once

#include <time.h>

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace shmbus::util {

/// CLOCK_REALTIME now, in nanoseconds since the epoch: the one reading of the wall clock that
/// topic files carry (creation and attach times, record stamps).
[[nodiscard]] inline std::uint64_t realtime_ns() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);  // vDSO: no system call
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(now.tv_nsec);
}

class RecordClock {
  public:
    RecordClock() noexcept;

    /// CLOCK_REALTIME nanoseconds now, extrapolated from the last anchor when it can be.
    [[nodiscard]] std::uint64_t now() noexcept {
#if defined(__x86_64__)
        if (anchor_ticks_limit_ != 0) [[likely]] {
            const std::uint64_t elapsed = __rdtsc() - anchor_ticks_;
            // Unsigned: a TSC that went backwards reads as a huge count and forces an anchor.
            if (elapsed < anchor_ticks_limit_) [[likely]] {
                // Q32 fixed point; below the limit (about a millisecond of ticks) times a rate
                // under 2^32 the product fits 64 bits (see reanchor).
                return anchor_ns_ + ((elapsed * ns_per_tick_q32_) >> 32);
            }
        }
#endif
        return reanchor();
    }

    /// Whether stamps come from the TSC between anchors (false: every stamp is a clock read).
    [[nodiscard]] bool extrapolates() const noexcept {
        return invariant_tsc_;
    }

  private:
    /// Reads the clock and the TSC together, refines the rate, and returns the clock.
    std::uint64_t reanchor() noexcept;

    std::uint64_t anchor_ticks_ = 0;        // TSC at the last anchor
    std::uint64_t anchor_ns_ = 0;           // what now() returned for it
    std::uint64_t ns_per_tick_q32_ = 0;     // nanoseconds per TSC tick, times 2^32
    std::uint64_t anchor_ticks_limit_ = 0;  // ticks to the next anchor; 0: no rate yet
    std::uint64_t clock_ticks_ = 0;         // TSC and clock at the last clock read, for the rate
    std::uint64_t clock_ns_ = 0;
    bool invariant_tsc_ = false;
};

}  // namespace shmbus::util
