// Where processes run: every measured process is pinned to one CPU, named on the command line.
#pragma once

#include <string_view>
#include <vector>

namespace shmbus::bench {

/// Pins the calling process (and the threads it starts later) to `cpu`. Throws naming the CPU
/// if the kernel refuses, for example because the CPU does not exist.
void pin_to_cpu(int cpu);

/// "0", "0,1", "1,1": one CPU per process, in the order the case starts them. Throws
/// std::invalid_argument naming `option` for anything else.
[[nodiscard]] std::vector<int> parse_cpu_list(std::string_view option, std::string_view text);

/// The CPU for process `index` of a group placed on `cpus`: round-robin.
[[nodiscard]] int cpu_for(const std::vector<int>& cpus, std::size_t index) noexcept;

}  // namespace shmbus::bench
