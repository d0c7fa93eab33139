#include "core/resources.hpp"

#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>

namespace shmbus::bench {
namespace {

std::uint64_t ns_of(const timeval& time) noexcept {
    return static_cast<std::uint64_t>(time.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(time.tv_usec) * 1'000u;
}

std::uint64_t count_of(long value) noexcept {
    return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}

}  // namespace

ResourceUsage usage_of_self() noexcept {
    rusage usage{};
    (void)::getrusage(RUSAGE_SELF, &usage);
    ResourceUsage result;
    result.user_ns = ns_of(usage.ru_utime);
    result.system_ns = ns_of(usage.ru_stime);
    result.minor_faults = count_of(usage.ru_minflt);
    result.major_faults = count_of(usage.ru_majflt);
    result.voluntary_switches = count_of(usage.ru_nvcsw);
    result.involuntary_switches = count_of(usage.ru_nivcsw);
    return result;
}

ResourceUsage usage_between(const ResourceUsage& before, const ResourceUsage& after) noexcept {
    ResourceUsage delta;
    delta.user_ns = after.user_ns - before.user_ns;
    delta.system_ns = after.system_ns - before.system_ns;
    delta.minor_faults = after.minor_faults - before.minor_faults;
    delta.major_faults = after.major_faults - before.major_faults;
    delta.voluntary_switches = after.voluntary_switches - before.voluntary_switches;
    delta.involuntary_switches = after.involuntary_switches - before.involuntary_switches;
    return delta;
}

Residency residency_of_self() {
    Residency residency;
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        std::istringstream fields(line);
        std::string key;
        std::uint64_t kb = 0;
        fields >> key >> kb;
        if (key == "VmRSS:") residency.rss_kb = kb;
        if (key == "RssAnon:") residency.anon_kb = kb;
        if (key == "RssFile:") residency.file_kb = kb;
        if (key == "RssShmem:") residency.shmem_kb = kb;
    }
    return residency;
}

}  // namespace shmbus::bench
