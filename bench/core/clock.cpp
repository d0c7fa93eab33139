#include "core/clock.hpp"

#include <time.h>

namespace shmbus::bench {
namespace {

std::uint64_t read_ns(clockid_t clock) noexcept {
    timespec now{};
    ::clock_gettime(clock, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace

std::uint64_t monotonic_ns() noexcept {
    return read_ns(CLOCK_MONOTONIC);
}

CycleClock CycleClock::calibrate() {
#if defined(__x86_64__)
    constexpr std::uint64_t kWindowNs = 50'000'000;
    const std::uint64_t start_ns = read_ns(CLOCK_MONOTONIC_RAW);
    const std::uint64_t start_ticks = now();
    std::uint64_t end_ns = start_ns;
    while (end_ns - start_ns < kWindowNs)
        end_ns = read_ns(CLOCK_MONOTONIC_RAW);
    const std::uint64_t end_ticks = now();
    return CycleClock(static_cast<double>(end_ns - start_ns) /
                      static_cast<double>(end_ticks - start_ticks));
#else
    return CycleClock(1.0);
#endif
}

}  // namespace shmbus::bench
