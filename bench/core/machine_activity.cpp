#include "core/machine_activity.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/clock.hpp"

namespace shmbus::bench {

CpuTicks read_cpu_ticks() {
    CpuTicks ticks;
    ticks.wall_ns = monotonic_ns();
    std::ifstream stat("/proc/stat");
    std::string line;
    if (!std::getline(stat, line)) return ticks;
    std::istringstream fields(line);
    std::string label;
    std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                  steal = 0;
    fields >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    const long hz = ::sysconf(_SC_CLK_TCK);
    const std::uint64_t ns_per_tick =
        hz > 0 ? 1'000'000'000u / static_cast<std::uint64_t>(hz) : 10'000'000u;
    ticks.busy_ns = (user + nice + system + irq + softirq) * ns_per_tick;
    ticks.steal_ns = steal * ns_per_tick;
    return ticks;
}

LoadAverage read_load_average() {
    LoadAverage load;
    std::ifstream file("/proc/loadavg");
    file >> load.one >> load.five;
    return load;
}

std::uint64_t children_cpu_ns() noexcept {
    rusage usage{};
    (void)::getrusage(RUSAGE_CHILDREN, &usage);
    const auto ns = [](const timeval& time) {
        return static_cast<std::uint64_t>(time.tv_sec) * 1'000'000'000u +
               static_cast<std::uint64_t>(time.tv_usec) * 1'000u;
    };
    return ns(usage.ru_utime) + ns(usage.ru_stime);
}

}  // namespace shmbus::bench
