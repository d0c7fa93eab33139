// The files and names of one case: a fresh directory under the scratch root (tmpfs by default)
// for files and sockets, and a prefix unique on the machine for names that live elsewhere
// (POSIX queues, Boost shared memory, iceoryx services). Removed when the case ends.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "cases/case_options.hpp"
#include "peers/link_spec.hpp"

namespace shmbus::bench {

class CaseScratch {
  public:
    explicit CaseScratch(const CaseOptions& options);
    ~CaseScratch();
    CaseScratch(const CaseScratch&) = delete;
    CaseScratch& operator=(const CaseScratch&) = delete;

    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return directory_; }

    /// The spec of link `name` for this case's record size, writers, readers and options.
    [[nodiscard]] LinkSpec link(std::string_view name) const;

  private:
    const CaseOptions& options_;
    std::string unique_;
    std::filesystem::path directory_;
};

}  // namespace shmbus::bench
