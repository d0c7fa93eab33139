// The bookkeeping around a measured process's work: the time and resources from the start
// line to the end, and its resident memory at the end, written into its report.
#pragma once

#include "core/clock.hpp"
#include "core/control_block.hpp"
#include "core/resources.hpp"

namespace shmbus::bench {

class MeasuredPhase {
  public:
    explicit MeasuredPhase(ProcessReport& report) : report_(report), before_(usage_of_self()) {
        report_.start_ns = monotonic_ns();
    }

    void finish() {
        report_.end_ns = monotonic_ns();
        const ResourceUsage used = usage_between(before_, usage_of_self());
        report_.user_ns = used.user_ns;
        report_.system_ns = used.system_ns;
        report_.minor_faults = used.minor_faults;
        report_.major_faults = used.major_faults;
        report_.voluntary_switches = used.voluntary_switches;
        report_.involuntary_switches = used.involuntary_switches;
        const Residency residency = residency_of_self();
        report_.rss_kb = residency.rss_kb;
        report_.rss_anon_kb = residency.anon_kb;
        report_.rss_file_kb = residency.file_kb;
        report_.rss_shmem_kb = residency.shmem_kb;
    }

  private:
    ProcessReport& report_;
    ResourceUsage before_;
};

}  // namespace shmbus::bench
