// Was the machine quiet while a case ran? Everything the CPUs did, from /proc/stat, less what
// the case's own processes used (their rusage) is work by somebody else: a compiler, a test, a
// daemon. The driver records it with each result, and the sweep throws away results where it
// is more than a few percent of the machine.
#pragma once

#include <cstdint>

namespace shmbus::bench {

struct CpuTicks {
    std::uint64_t busy_ns = 0;   // user, nice, system, irq, softirq: all CPUs together
    std::uint64_t steal_ns = 0;  // taken by the hypervisor
    std::uint64_t wall_ns = 0;   // CLOCK_MONOTONIC when read
};

[[nodiscard]] CpuTicks read_cpu_ticks();

struct LoadAverage {
    double one = 0;
    double five = 0;
};

[[nodiscard]] LoadAverage read_load_average();

/// CPU time used by this process's reaped children so far.
[[nodiscard]] std::uint64_t children_cpu_ns() noexcept;

}  // namespace shmbus::bench
