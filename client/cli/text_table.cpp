#include "text_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace shmbus::cli {

std::string TextTable::render(const std::string& indent) const {
    std::vector<std::size_t> widths;
    for (const Row& row : rows_) {
        if (widths.size() < row.size()) widths.resize(row.size(), 0);
        for (std::size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], row[i].size());
    }
    std::string out;
    for (const Row& row : rows_) {
        std::string line = indent;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line;
        out += '\n';
    }
    return out;
}

std::string describe_size(std::uint64_t bytes) {
    static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
    std::string unit;
    std::uint64_t amount = bytes;
    for (const char* name : kUnits) {
        if (amount == 0 || amount % 1024 != 0) break;
        amount /= 1024;
        unit = name;
    }
    if (unit.empty()) return fmt::format("{} bytes", bytes);
    return fmt::format("{} bytes ({} {})", bytes, amount, unit);
}

}  // namespace shmbus::cli
