// What a case hands back to the driver: its result line, the failures of its processes, and
// how busy the rest of the machine was while it ran.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cases/case_options.hpp"
#include "core/child_processes.hpp"
#include "core/control_block.hpp"
#include "json_writer.hpp"

namespace shmbus::bench {

struct CaseOutcome {
    CaseOutcome() { line.begin_object(); }

    SharedControl control;
    /// The case's figures, the members of a JSON object left open: the driver ends it and
    /// appends them to the run's own (driver.cpp). Spaced, as results.jsonl is written.
    JsonWriter line{JsonLayout::kSpaced};
    std::vector<std::string> failures;

    /// Waits until `processes` arrived at the start line, starts shmbusd on `directory` if
    /// options.daemon names it, lets them go, and waits for all to exit (at most
    /// options.timeout). Adds the machine's activity during the run to `line`: window_ns,
    /// own_cpu_ns (this case's processes from the start line to their exit, and its daemon),
    /// foreign_cpu_ns (CPU time used by anything else), foreign_share (that, as a share of all
    /// CPUs' time), steal_ns, daemon_cpu_ns, and the one-minute load average before and after.
    void finish(ChildProcesses& children, std::uint32_t processes, const CaseOptions& options,
                const std::filesystem::path& directory);
};

}  // namespace shmbus::bench
