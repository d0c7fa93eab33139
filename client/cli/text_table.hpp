// Left-aligned columns for human-readable output: each column as wide as its widest cell,
// columns two spaces apart, no trailing spaces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shmbus::cli {

class TextTable {
  public:
    using Row = std::vector<std::string>;

    void add(Row row) { rows_.push_back(std::move(row)); }
    [[nodiscard]] bool empty() const noexcept { return rows_.empty(); }

    /// The table, each line prefixed with `indent` and ended with '\n'.
    [[nodiscard]] std::string render(const std::string& indent = "") const;

  private:
    std::vector<Row> rows_;
};

/// "1048576 bytes (1 MiB)", or "1536 bytes" when it is not a whole number of KiB, MiB, ...
[[nodiscard]] std::string describe_size(std::uint64_t bytes);

}  // namespace shmbus::cli
