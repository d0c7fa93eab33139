// The clock publishers stamp records with (util/record_clock.hpp): CLOCK_REALTIME nanoseconds,
// extrapolated from the TSC between clock reads about a millisecond apart.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <shmbus/detail/util/record_clock.hpp>

#include "support/skip.hpp"

namespace {

using shmbus::util::realtime_ns;
using shmbus::util::RecordClock;

std::int64_t difference(std::uint64_t a, std::uint64_t b) {
    return static_cast<std::int64_t>(a - b);
}

}  // namespace

TEST_CASE(
    "a record clock agrees with CLOCK_REALTIME, read just before and after, within a few "
    "microseconds, and never runs backwards by more than that") {
    RecordClock clock;
    if (!clock.extrapolates()) {
        return shmbus::test::skip("this CPU has no invariant TSC: every stamp is a clock read");
    }
    // 100 ms of stamps, compared with the real clock around each. The bounds allow for this
    // machine being descheduled between the three reads: a stamp may be late by that much, but
    // it must not lie outside [before, after] by more than the extrapolation's error.
    constexpr std::int64_t kTolerance = 5'000;  // ns
    const std::uint64_t end = realtime_ns() + 100'000'000;
    std::uint64_t stamps = 0;
    std::uint64_t previous = 0;
    std::int64_t worst_early = 0;
    std::int64_t worst_late = 0;
    std::int64_t worst_backwards = 0;
    for (;;) {
        const std::uint64_t before = realtime_ns();
        const std::uint64_t stamp = clock.now();
        const std::uint64_t after = realtime_ns();
        if (after - before > 20'000) continue;  // descheduled around it: no bound to check
        ++stamps;
        if (difference(before, stamp) > worst_early) worst_early = difference(before, stamp);
        if (difference(stamp, after) > worst_late) worst_late = difference(stamp, after);
        if (previous != 0 && difference(previous, stamp) > worst_backwards) {
            worst_backwards = difference(previous, stamp);
        }
        previous = stamp;
        if (after >= end) break;
    }
    std::printf(
        "record clock: %llu stamps in 100 ms; worst %lld ns before the clock, %lld ns "
        "after it, %lld ns backwards\n",
        static_cast<unsigned long long>(stamps), static_cast<long long>(worst_early),
        static_cast<long long>(worst_late), static_cast<long long>(worst_backwards));
    std::fflush(stdout);
    CHECK(stamps > 1000);
    CHECK(worst_early < kTolerance);
    CHECK(worst_late < kTolerance);
    CHECK(worst_backwards < kTolerance);
}

TEST_CASE("a record clock follows a clock it cannot extrapolate: each stamp is a clock read") {
    RecordClock clock;
    const std::uint64_t before = realtime_ns();
    const std::uint64_t stamp = clock.now();  // the first stamp is always a clock read
    const std::uint64_t after = realtime_ns();
    CHECK(stamp >= before);
    CHECK(stamp <= after);
}
