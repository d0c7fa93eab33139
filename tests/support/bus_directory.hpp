// A fresh, empty bus directory for one test, removed afterwards.
#pragma once

#include <filesystem>
#include <string>

namespace shmbus::test {

class BusDirectory {
  public:
    /// Creates a unique directory under $TMPDIR (default /tmp).
    BusDirectory();
    /// Creates a unique directory under `parent`, which must exist.
    explicit BusDirectory(const std::filesystem::path& parent);
    ~BusDirectory();
    BusDirectory(const BusDirectory&) = delete;
    BusDirectory& operator=(const BusDirectory&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace shmbus::test
