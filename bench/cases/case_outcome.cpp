#include "cases/case_outcome.hpp"

#include <unistd.h>

#include <algorithm>
#include <memory>

#include "cases/supervising_daemon.hpp"
#include "core/machine_activity.hpp"

namespace shmbus::bench {
namespace {

constexpr std::chrono::seconds kLongestSetup{60};
constexpr std::chrono::seconds kAbortGrace{5};

}  // namespace

void CaseOutcome::finish(ChildProcesses& children, std::uint32_t processes,
                         const CaseOptions& options, const std::filesystem::path& directory) {
    if (!control.wait_for_arrivals(processes, kLongestSetup,
                                   [&children] { return children.all_running(); })) {
        control.release(Phase::kAbort);
        failures = children.wait_all(kAbortGrace);
        if (failures.empty()) failures.push_back("the processes never all reached the start line");
        return;
    }
    std::unique_ptr<SupervisingDaemon> daemon;
    if (!options.daemon.empty()) {
        try {
            daemon = std::make_unique<SupervisingDaemon>(options.daemon, directory,
                                                         options.daemon_interval);
        } catch (const std::exception& error) {
            control.release(Phase::kAbort);
            failures = children.wait_all(kAbortGrace);
            failures.push_back(error.what());
            return;
        }
    }
    const std::uint64_t daemon_before = daemon ? daemon->cpu_ns() : 0;
    const LoadAverage load_before = read_load_average();
    const std::uint64_t children_before = children_cpu_ns();
    const CpuTicks before = read_cpu_ticks();
    control.release(Phase::kGo);
    failures = children.wait_all(options.timeout);
    const CpuTicks after = read_cpu_ticks();
    const std::uint64_t children_used = children_cpu_ns() - children_before;
    const LoadAverage load_after = read_load_average();
    const std::uint64_t daemon_cpu = daemon ? daemon->cpu_ns() - daemon_before : 0;

    // The case's own work in the window: each process's CPU time from the start line to its
    // exit (creating a thousand topics after the start line, or closing them and unmapping a
    // large ring before exiting, is its own work, not somebody else's). The reaped children's
    // rusage gives it, less what each had used on arrival at the start line, before the window.
    // A child not reaped (killed at the timeout) is missing from the rusage: then the measured
    // phases alone count.
    std::uint64_t measured_cpu = 0, before_start = 0;
    for (std::size_t i = 0; i < processes; ++i) {
        measured_cpu += control.report(i).user_ns + control.report(i).system_ns;
        before_start += control.report(i).cpu_at_arrival_ns;
    }
    const std::uint64_t after_start =
        children_used > before_start ? children_used - before_start : 0;
    const std::uint64_t own_cpu = std::max(measured_cpu, after_start) + daemon_cpu;
    const std::uint64_t busy = after.busy_ns - before.busy_ns;
    const std::uint64_t window = after.wall_ns - before.wall_ns;
    const std::uint64_t foreign = busy > own_cpu ? busy - own_cpu : 0;
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    const double capacity = static_cast<double>(window) * static_cast<double>(cpus > 0 ? cpus : 1);
    line.field("window_ns", window)
        .field("own_cpu_ns", own_cpu)
        .field("foreign_cpu_ns", foreign)
        .field("foreign_share", capacity > 0 ? static_cast<double>(foreign) / capacity : 0.0)
        .field("steal_ns", after.steal_ns - before.steal_ns)
        .field("daemon_cpu_ns", daemon_cpu)
        .field("load1_start", load_before.one)
        .field("load1_end", load_after.one);
}

}  // namespace shmbus::bench
