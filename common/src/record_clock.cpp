#include "shmbus/detail/util/record_clock.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace shmbus::util {
namespace {

// About a millisecond between clock reads: the rate measured over one such interval is good to
// the clock's jitter over it (tens of nanoseconds in a million), and one clock read in a
// thousand records or more costs nothing measurable.
constexpr std::uint64_t kAnchorIntervalNs = 1'000'000;
// The rate is measured only over intervals at least this long; shorter ones are too noisy.
constexpr std::uint64_t kShortestRateIntervalNs = 200'000;
// A clock that is behind what we extrapolated by more than this stepped back (NTP, by hand):
// follow it. Less is the extrapolation's own error: hold to the extrapolation, so that this
// publisher's stamps do not run backwards.
constexpr std::uint64_t kStepBackNs = 1'000'000;
// A clock read between two TSC reads further apart than this was interrupted (about 20 us at
// 3 GHz; an uninterrupted vDSO read takes well under a microsecond).
constexpr std::uint64_t kWidestPairTicks = 60'000;
constexpr int kPairAttempts = 3;

bool cpu_has_invariant_tsc() noexcept {
#if defined(__x86_64__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    // The highest extended leaf (clang's cpuid.h declares it int, GCC's unsigned).
    const auto highest = static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr));
    if (highest < 0x80000007u) return false;
    if (__get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx) == 0) return false;
    return (edx & (1u << 8)) != 0;
#else
    return false;
#endif
}

}  // namespace

RecordClock::RecordClock() noexcept : invariant_tsc_(cpu_has_invariant_tsc()) {}

std::uint64_t RecordClock::reanchor() noexcept {
    if (!invariant_tsc_) return realtime_ns();
#if defined(__x86_64__)
    // The clock between two TSC reads, and the pair taken at their midpoint. A pair whose reads
    // lie far apart (the thread was preempted between them) would skew the anchor and the rate
    // by the preemption: try again, a few times, and otherwise use the clock alone.
    std::uint64_t clock = 0;
    std::uint64_t ticks = 0;
    bool paired = false;
    for (int attempt = 0; attempt < kPairAttempts && !paired; ++attempt) {
        const std::uint64_t before = __rdtsc();
        clock = realtime_ns();
        const std::uint64_t after = __rdtsc();
        ticks = before + (after - before) / 2;
        paired = after >= before && after - before < kWidestPairTicks;
    }
    if (!paired) return clock;
    // What the last anchor would have said now, if it has a rate and the TSC moved forward.
    std::uint64_t extrapolated = 0;
    if (anchor_ticks_limit_ != 0 && ticks > anchor_ticks_ &&
        ticks - anchor_ticks_ < 4 * anchor_ticks_limit_) {  // a few intervals: no overflow
        extrapolated = anchor_ns_ + (((ticks - anchor_ticks_) * ns_per_tick_q32_) >> 32);
    }
    // The rate, from the last clock read to this one, when they are far enough apart and the
    // TSC and the clock both moved forward.
    if (clock_ns_ != 0 && ticks > clock_ticks_ && clock > clock_ns_ &&
        clock - clock_ns_ >= kShortestRateIntervalNs &&
        clock - clock_ns_ < 100 * kAnchorIntervalNs) {
        const std::uint64_t ns = clock - clock_ns_;
        const std::uint64_t tick_count = ticks - clock_ticks_;
        // ns * 2^32 / ticks: ns < 2^27 here, so ns << 32 fits 64 bits.
        const std::uint64_t rate = (ns << 32) / tick_count;
        // Ticks per interval. A rate under 2^32 (under a nanosecond a tick: a TSC above 1 GHz,
        // as every invariant one is) and a limit under 2^32 keep elapsed * rate within 64 bits
        // in now(); a TSC outside that is not extrapolated, and every stamp is a clock read.
        const std::uint64_t limit = (kAnchorIntervalNs << 32) / (rate == 0 ? 1 : rate);
        if (rate != 0 && rate < (std::uint64_t{1} << 32) && limit > 0 &&
            limit < (std::uint64_t{1} << 32)) {
            ns_per_tick_q32_ = rate;
            anchor_ticks_limit_ = limit;
        }
        clock_ticks_ = ticks;
        clock_ns_ = clock;
    } else if (clock_ns_ == 0 || clock <= clock_ns_ || ticks <= clock_ticks_ ||
               clock - clock_ns_ >= 100 * kAnchorIntervalNs) {
        // First read, a clock or TSC that went backwards, or a long idle gap: start measuring
        // the rate again from here.
        clock_ticks_ = ticks;
        clock_ns_ = clock;
    }
    anchor_ticks_ = ticks;
    // Hold to the extrapolation when the clock is a little behind it, so that stamps do not run
    // backwards; follow the clock when it is ahead, or stepped back for real.
    anchor_ns_ =
        (extrapolated > clock && extrapolated - clock < kStepBackNs) ? extrapolated : clock;
    return anchor_ns_;
#else
    return clock;
#endif
}

}  // namespace shmbus::util
