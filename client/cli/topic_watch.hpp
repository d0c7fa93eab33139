// Watching a bus directory for topics that appear and go, with inotify: what `shmbus sub` does
// for a glob, so that it follows topics created while it runs without listing the directory again
// and again.
//
//   TopicWatch watch(dir);                      // before listing the directory: nothing slips by
//   wait_set.add(watch.fd(), EPOLLIN, key);
//   ...when fd() is readable:
//   std::vector<TopicWatch::Change> changes;
//   if (!watch.read(changes)) { /* events were lost: list the directory again */ }
//
// A topic appears by rename (client/src/create.cpp builds it in a hidden directory first), so an
// appearance is whole. A directory made in place (mkdir, then its files: a copy, a restore) may
// not be a topic yet: watch_inside() watches it too, and every change in it comes back as
// kChanged until forget_inside().
#pragma once

#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "shmbus/detail/util/unique_fd.hpp"

namespace shmbus::cli {

class TopicWatch {
  public:
    struct Change {
        enum class Kind : std::uint8_t {
            kAppeared,  // renamed into the directory: a whole topic, unless something went wrong
            kCreated,   // a directory made in place: maybe not a topic yet
            kChanged,   // something changed inside a directory given to watch_inside()
            kGone,      // renamed away or removed
        };
        Kind kind;
        std::string name;  // a valid topic name: the daemon's and half-built entries are left out
    };

    /// Watches `dir`. Throws shmbus::Error naming the directory when inotify refuses (EACCES:
    /// no read permission on it; ENOSPC: fs.inotify.max_user_watches).
    explicit TopicWatch(std::filesystem::path dir);

    /// Readable when events are queued; non-blocking.
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

    /// Appends every queued change to `changes`, without blocking. Returns false when the kernel's
    /// queue overflowed and changes were lost: the caller lists the directory again.
    [[nodiscard]] bool read(std::vector<Change>& changes);

    /// Also watches the directory of `name` (which exists but is not a whole topic yet). Returns
    /// false if it cannot (it is gone already).
    bool watch_inside(const std::string& name);
    /// Stops watching inside `name`.
    void forget_inside(const std::string& name);

  private:
    std::filesystem::path dir_;
    util::UniqueFd fd_;
    int dir_watch_ = -1;
    std::unordered_map<int, std::string> inside_;  // watch descriptor -> topic name
};

}  // namespace shmbus::cli
