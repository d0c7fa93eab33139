// What a process used: CPU time, page faults and context switches from getrusage, and resident
// memory by kind from /proc/self/status.
#pragma once

#include <cstdint>

namespace shmbus::bench {

struct ResourceUsage {
    std::uint64_t user_ns = 0;
    std::uint64_t system_ns = 0;
    std::uint64_t minor_faults = 0;
    std::uint64_t major_faults = 0;
    std::uint64_t voluntary_switches = 0;
    std::uint64_t involuntary_switches = 0;
};

/// This process's usage so far (every thread).
[[nodiscard]] ResourceUsage usage_of_self() noexcept;

/// `after` minus `before`, field by field.
[[nodiscard]] ResourceUsage usage_between(const ResourceUsage& before,
                                          const ResourceUsage& after) noexcept;

struct Residency {
    std::uint64_t rss_kb = 0;
    std::uint64_t anon_kb = 0;   // heap, stacks, private copies
    std::uint64_t file_kb = 0;   // the program and its libraries
    std::uint64_t shmem_kb = 0;  // shared mappings: topic files on tmpfs, other rings
};

/// This process's resident memory now, from /proc/self/status.
[[nodiscard]] Residency residency_of_self();

}  // namespace shmbus::bench
