#include "core/placement.hpp"

#include <sched.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>

namespace shmbus::bench {

void pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
        throw std::invalid_argument("CPU " + std::to_string(cpu) + " is out of range");
    }
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    if (::sched_setaffinity(0, sizeof(set), &set) != 0) {
        throw std::runtime_error("cannot pin to CPU " + std::to_string(cpu) + ": " +
                                 std::strerror(errno));
    }
}

std::vector<int> parse_cpu_list(std::string_view option, std::string_view text) {
    std::vector<int> cpus;
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        const std::string_view item = text.substr(0, comma);
        int cpu = -1;
        const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), cpu);
        if (error != std::errc() || end != item.data() + item.size() || cpu < 0) {
            throw std::invalid_argument(std::string(option) + ": '" + std::string(item) +
                                        "' is not a CPU number");
        }
        cpus.push_back(cpu);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    if (cpus.empty()) throw std::invalid_argument(std::string(option) + ": no CPU given");
    return cpus;
}

int cpu_for(const std::vector<int>& cpus, std::size_t index) noexcept {
    return cpus[index % cpus.size()];
}

}  // namespace shmbus::bench
