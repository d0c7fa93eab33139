#include "bench_clock.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>

namespace shmbus::cli {
namespace {

std::uint64_t raw_ns() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC_RAW, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace

double calibrate_ticks() {
#if defined(__x86_64__)
    const std::uint64_t start_ns = raw_ns();
    const std::uint64_t start_ticks = bench_ticks();
    std::uint64_t end_ns = start_ns;
    while (end_ns - start_ns < 50'000'000)
        end_ns = raw_ns();
    return static_cast<double>(end_ns - start_ns) /
           static_cast<double>(bench_ticks() - start_ticks);
#else
    return 1.0;
#endif
}

void summarize_ticks(std::vector<std::uint64_t>& ticks, double ns_per_tick, double divisor,
                     double (&out)[7]) {
    std::fill(std::begin(out), std::end(out), 0.0);
    if (ticks.empty()) return;
    std::sort(ticks.begin(), ticks.end());
    const std::size_t n = ticks.size();
    const auto ns = [&](std::uint64_t t) { return static_cast<double>(t) * ns_per_tick / divisor; };
    const auto at = [&](double fraction) {
        const double rank = std::ceil(fraction * static_cast<double>(n));
        const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
        return ns(ticks[std::min(index, n - 1)]);
    };
    double total = 0;
    for (const std::uint64_t t : ticks)
        total += static_cast<double>(t);
    out[0] = ns(ticks.front());
    out[1] = at(0.50);
    out[2] = at(0.90);
    out[3] = at(0.99);
    out[4] = at(0.999);
    out[5] = ns(ticks.back());
    out[6] = total / static_cast<double>(n) * ns_per_tick / divisor;
}

}  // namespace shmbus::cli
