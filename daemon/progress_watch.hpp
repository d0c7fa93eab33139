// Waking the daemon when a recorder writes DIR/.progress, so that a bookmark follows the archive
// as it is flushed rather than only at each check (bookmark.hpp). Without it, a recorded block
// topic could carry at most one ring per check interval.
//
// One inotify descriptor watches the archive directory of every recorded block topic for
// IN_MODIFY; the daemon polls it with its other descriptors and, when it is readable, asks
// which topics' progress files changed. An archive directory that does not exist yet (the
// recorder creates it) is watched from the first check after it appears. If inotify is not
// available (limits, a file system without it), the bookmarks still move at each check.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <shmbus/detail/util/unique_fd.hpp>
#include <string>

namespace shmbusd {

class ProgressWatch {
  public:
    ProgressWatch();  // never throws: without inotify, fd() is -1 and nothing is watched

    /// Watches exactly these archive directories, by topic. Cheap when nothing changed.
    void watch(const std::map<std::string, std::filesystem::path, std::less<>>& archives);

    /// The descriptor to poll for POLLIN, or -1.
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

    /// Reads every pending event; returns the topics whose .progress was written.
    [[nodiscard]] std::set<std::string> changed();

  private:
    struct Watched {
        std::filesystem::path directory;
        int descriptor = -1;  // -1: not (yet) watched
    };
    shmbus::util::UniqueFd fd_;
    std::map<std::string, Watched, std::less<>> topics_;
    bool warned_ = false;
};

}  // namespace shmbusd
